"""The heuristic provider's knowledge base: MSP problem families, their causes, steps and the facts they need.

Every pattern is a lower-case regular expression matched on whole words; step `keys` are word groups in
the format of `StepRule` and are stemmed the same way as the engineer's tried steps before comparing.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.assessments.schemas import Risk


@dataclass(frozen=True)
class Cause:
    key: str
    text: str
    short: str  # fits "most probably {short}" in the summary
    prior: float
    hints: tuple[tuple[str, float], ...] = ()  # (pattern, factor): a match makes the cause more (>1) or less likely


@dataclass(frozen=True)
class StepRule:
    """A candidate next step; `keys` decide whether an engineer's tried step is the same action."""

    key: str
    text: str
    # Every group must be present in the tried step; "|" separates alternatives, a space joins words needed together.
    keys: tuple[str, ...]
    addresses: tuple[str, ...] = ()  # cause keys this step tests or fixes; none means it narrows every cause
    if_tried: tuple[tuple[str, float], ...] = ()  # (cause key, factor) once it was tried and the problem stayed
    follow_up: bool = False  # for after the cause is found (monitoring, fallbacks): never outranks the diagnosis


@dataclass(frozen=True)
class MissingFact:
    key: str
    text: str
    known_if: str  # pattern: the transcript already says it


@dataclass(frozen=True)
class RiskRule:
    level: Risk
    all_of: tuple[str, ...]  # patterns that must all match the transcript


@dataclass(frozen=True)
class Family:
    name: str
    label: str  # fits "a {label} problem"
    signals: tuple[tuple[str, float], ...]  # (pattern, weight) that point at this family
    causes: tuple[Cause, ...]
    steps: tuple[StepRule, ...]  # in the order a senior would usually take them
    missing: tuple[MissingFact, ...]
    risk: Risk
    risk_rules: tuple[RiskRule, ...] = ()


# fmt: off
# The knowledge base is laid out by hand, one rule per line or two, so a reviewer can scan it.
SCOPE_KNOWN = (
    r"(other|all|all the|all \w+|every|both|several|multiple|many|\d+|two|three|four|five|six|ten) (users?|clients?"
    r"|machines?|pcs?|devices?|laptops?|people|staff|sites?|endpoints?)|everyone|everybody|nobody|no one"
    r"|(only|just) (this|one|the|that|my|his|her|him|them)( \w+){0,2}|single (user|device|machine|pc|laptop)"
    r"|whole (office|site|company|building|team)|colleagues?"
)
CHANGE_KNOWN = (
    r"since|started|began|after (the|a|an|we|they|windows|last|his|her|their|our)|yesterday|this morning"
    r"|last (week|night|friday|monday|tuesday|wednesday|thursday|weekend)|chang\w*|migrat\w*|updat\w*|upgrad\w*"
)
ERROR_KNOWN = r"errors?|code|0x[0-9a-f]+|event( id)? \d+|says|message|aadsts\d+|\"[^\"]{3,}\"|\u201c[^\u201d]{3,}\u201d"
DEVICE_KNOWN = (
    r"windows (10|11|server( \d+)?)|win ?1[01]|macos|mac|iphone|android|hostname|device|os|laptop-\w+|pc-\w+"
    r"|desktop-\w+|build \d+|\d{2}h\d"
)

UNKNOWN_CAUSES = (
    Cause("recent_change", "A recent change on the affected system (Windows or application update, configuration, "
          "password or licence change)", "a recent change on the affected system", 0.45),
    Cause("local_fault", "A fault local to the one device or user profile (corrupt profile, cached settings, "
          "third-party software)", "a fault local to the one device or profile", 0.35),
    Cause("service_outage", "An outage or degradation at the vendor, ISP or SaaS provider",
          "a vendor or service outage", 0.2),
)
UNKNOWN_STEPS = (
    StepRule("reproduce", "Reproduce the problem with the user and capture the exact error text or code, a "
             "screenshot and the time it happened", ("reproduce|screenshot|exact error|error message",)),
    StepRule("scope", "Establish scope: does it affect one user or device or several, and does it also happen on "
             "another device or from another network?",
             ("scope|another device|other device|other user|another user|second device|another pc|other pc",)),
    StepRule("changes", "Check what changed before it started: Windows Update history, recently installed "
             "software, the RMM patch/activity log and recent PSA tickets for this client",
             ("update history|patch log|activity log|what change|recent change|installed update",)),
    StepRule("event_log", "Review Event Viewer (System and Application logs) on the affected machine around the "
             "failure time and look the event IDs up in the vendor's knowledge base",
             ("event viewer|event log|eventvwr|event id",)),
    StepRule("vendor_status", "Check the vendor's status page (Microsoft 365 admin centre > Service health, ISP, "
             "SaaS provider) for a known incident", ("status page|service health|outage",)),
    StepRule("clean_boot", "Test with a fresh user profile or a clean boot (msconfig, non-Microsoft services "
             "disabled) to separate a profile or third-party software problem from a system fault",
             ("safe mode|clean boot|new profile|fresh profile|test profile|another profile",)),
    StepRule("reboot", "Restart the affected device or application if it has not been restarted since the "
             "problem began, then retest",
             ("restart|power cycle", "device|pc|laptop|computer|machine|app|application|server|workstation|it")),
)
UNKNOWN_MISSING = (
    MissingFact("error", "What the user was trying to do and the exact error message or code", ERROR_KNOWN),
    MissingFact("scope", "How many users or devices are affected and whether colleagues see the same", SCOPE_KNOWN),
    MissingFact("change", "When it started and what changed just before (updates, new software, password or "
                "configuration changes)", CHANGE_KNOWN),
    MissingFact("device", "The device, OS and application versions involved", DEVICE_KNOWN),
    MissingFact("working_case", "Where it does work (another user, device, network or site) to compare against",
                r"works (on|for|from|fine|ok)|working (on|for)|other (pc|laptop|device|user)s? (are|is) fine"),
    MissingFact("reproduced", "Whether the engineer could reproduce it themselves",
                r"reproduc\w*|can'?t replicate|replicat\w*|could see it|saw it happen"),
)

ALL_USERS = (
    r"all (the )?users|all staff|everyone|everybody|whole (office|site|company|building)|entire (office|site|company)"
    r"|nobody can|no one can|company-wide|site-wide|outage|production (is )?down|ransomware|data loss|breach"
    r"|compromised"
)
CRITICAL = (
    r"outage|production (is )?down|ransomware|data loss|breach|compromised|encrypted files|nobody can work"
    r"|no one can work|business (is )?down"
)
ONE_USER = (
    r"one user|single user|only (this|one|the one|his|her|my) (user|pc|laptop|device|machine|printer|desktop)"
    r"|just (this|one|his|her) (pc|laptop|device|machine|user)"
)

DNS = Family(
    name="dns",
    label="DNS name resolution",
    signals=(
        (r"dns", 3.0), (r"nslookup", 3.0), (r"flushdns|ipconfig /flushdns", 3.0), (r"name resolution", 3.0),
        (r"resolve-dnsname", 3.0), (r"nxdomain|servfail|dns_probe\w*", 3.0), (r"conditional forwarders?", 3.0),
        (r"forwarders?", 2.0), (r"(a|cname|ptr|srv|txt) records?", 2.0), (r"hosts file", 2.0), (r"dig", 1.5),
        (r"(can'?t|cannot|could not|couldn'?t|won'?t|doesn'?t) resolve", 2.5), (r"resolv(e|es|ing|er|ers)", 1.0),
        (r"server not found|site can'?t be reached|this site can'?t be reached", 1.5), (r"ttl|zone|scavenging", 1.0),
        (r"umbrella|dnsfilter|webtitan", 1.5), (r"split-brain", 2.0),
    ),
    causes=(
        Cause("wrong_resolver", "The client uses the wrong DNS servers (router, ISP or public resolver from DHCP or "
              "the VPN adapter instead of the internal DC), so internal names fail",
              "the client using the wrong DNS servers", 0.25,
              ((r"8\.8\.8\.8|1\.1\.1\.1|router|isp|public dns|vpn", 1.5), (ONE_USER, 1.2))),
        Cause("client_cache", "A stale DNS cache or a hosts-file entry on the client overriding the current record",
              "a stale client cache or hosts-file entry", 0.2, ((ONE_USER, 1.6), (r"hosts file", 1.5))),
        Cause("dns_server", "The internal DNS server or DC's DNS service is unhealthy or not forwarding "
              "(forwarders, root hints, service stopped)", "the internal DNS server not answering or forwarding",
              0.2, ((ALL_USERS + r"|all (clients|machines|pcs)|other users", 1.8), (r"domain controller|dc\d*", 1.2))),
        Cause("record", "A missing, stale or wrong record in the zone (changed A/CNAME, scavenging, split-brain zone "
              "missing the public name)", "a missing or stale record in the zone", 0.2,
              ((r"one (site|website|domain|name)|intranet|internal (site|app|name)|new (site|server|record)"
                r"|moved|split-brain", 1.5),)),
        Cause("upstream", "The upstream resolver or DNS filtering (Umbrella, DNSFilter, firewall DNS proxy) failing or "
              "blocking the name", "upstream resolver or DNS filtering", 0.15,
              ((r"umbrella|dnsfilter|webtitan|block\w*|filter\w*|isp", 2.0),)),
    ),
    steps=(
        StepRule("nslookup", "On an affected client compare `nslookup <name>` with `nslookup <name> <DC IP>` (or "
                 "`Resolve-DnsName <name> -Server <DC IP>`) to see whether the configured resolver or the record is "
                 "at fault", ("nslookup|dnsname|dig",)),
        StepRule("resolver", "Run `ipconfig /all` on the client and confirm its DNS servers are the internal DCs, "
                 "not the router, ISP or 8.8.8.8; fix DHCP scope option 006 or the VPN adapter's DNS if they are not",
                 ("ipconfig all|dns server|resolver|dns setting|option 006",), ("wrong_resolver",),
                 (("wrong_resolver", 0.4),)),
        StepRule("flush", "Flush the client's resolver cache with `ipconfig /flushdns` and retest the failing name",
                 ("flush|clear|purge|flushdns", "dns|cache|flushdns"), ("client_cache",), (("client_cache", 0.4),)),
        StepRule("hosts_file", "Check `C:\\Windows\\System32\\drivers\\etc\\hosts` for a stale entry for the failing "
                 "name", ("host", "file"), ("client_cache",), (("client_cache", 0.7),)),
        StepRule("dns_server", "On the DC open DNS Manager: confirm the DNS Server service is running, check the DNS "
                 "Server event log and the forwarders (Server properties > Forwarders), and run `dcdiag /test:dns`",
                 ("dcdiag|forwarder|dnsmgmt|dns manager",), ("dns_server",), (("dns_server", 0.4),)),
        StepRule("record", "Look the failing name up in the zone (A/CNAME, TTL, scavenging) and compare it with the "
                 "public answer (`nslookup <name> 1.1.1.1`); correct the record or add it to the split-brain zone",
                 ("record|zone",), ("record",), (("record", 0.4),)),
        StepRule("filtering", "Check the DNS filtering or firewall DNS-proxy logs (Umbrella, DNSFilter, FortiGate DNS "
                 "filter) for blocked or failed queries for the name", ("umbrella|dnsfilter|filter",), ("upstream",),
                 (("upstream", 0.5),)),
        StepRule("second_client", "Test the same name from a second client on the same network and from a phone "
                 "hotspot to tell a device, site or upstream fault apart",
                 ("another|second|other|hotspot", "client|device|machine|laptop|pc|computer|hotspot"),
                 ("dns_server", "client_cache")),
    ),
    missing=(
        MissingFact("resolver", "Which DNS servers the affected client uses (`ipconfig /all` output)",
                    r"ipconfig /all|dns servers? (is|are|was|were|set|points?)|resolver|8\.8\.8\.8|1\.1\.1\.1"
                    r"|\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}"),
        MissingFact("scope", "Whether other clients at the site are affected", SCOPE_KNOWN),
        MissingFact("error", "The exact names that fail and the answer returned (NXDOMAIN, SERVFAIL, timeout or a "
                    "wrong IP)", r"nxdomain|servfail|timed? ?out|non-existent domain|can'?t find|wrong ip"
                    r"|[\w-]+\.(com|net|org|local|lan|internal|co\.uk|io)"),
        MissingFact("zone", "Whether the failing names are internal (AD zone) or public",
                    r"internal|public|external|intranet|[\w-]+\.(local|lan|internal)|ad zone"),
        MissingFact("network", "Whether the client is on the office LAN, Wi-Fi or VPN when it fails",
                    r"vpn|wi-?fi|wireless|lan|ethernet|wired|remote|from home|in the office|on site"),
        MissingFact("change", "Recent changes to DNS records, DHCP options, DCs, the firewall or DNS filtering",
                    CHANGE_KNOWN),
    ),
    risk="medium",
    risk_rules=(RiskRule("high", (ALL_USERS + r"|mail flow|mx records?",)), RiskRule("low", (ONE_USER,))),
)

SITE_TO_SITE = r"site-to-site|site to site|s2s|between (the )?(sites|offices)"  # no user client or login involved
CONNECTED_BUT = (
    r"(connected|connects|connect\w*( to \w+)?( fine| ok)?) but|can'?t reach|cannot reach|unable to reach|no access to"
)  # the tunnel and the login work, the traffic does not

VPN = Family(
    name="vpn",
    label="VPN connectivity",
    signals=(
        (r"vpn", 3.0), (r"ipsec", 3.0), (r"site-to-site|site to site|s2s", 3.0), (r"tunnels?", 2.0),
        (r"anyconnect|globalprotect|forticlient|wireguard|openvpn|always on vpn|zerotier|tailscale", 3.0),
        (r"ike|ikev2|ikev1", 3.0), (r"phase ?(1|2|one|two)", 2.0), (r"split tunnel\w*", 3.0),
        (r"remote access", 1.5), (r"ssl ?vpn|sslvpn|l2tp|pptp", 3.0), (r"pre-shared key|psk", 2.0),
        (r"dpd|dead peer detection|nat-t|rekey\w*", 2.0), (r"fortigate|sonicwall|watchguard|palo alto|meraki mx", 1.0),
    ),
    causes=(
        Cause("ike_mismatch", "IKE/IPsec proposals, lifetimes or the pre-shared key differ between the peers (or a "
              "peer's WAN IP changed), so phase 1/phase 2 renegotiation fails", "a phase 1/phase 2 mismatch between "
              "the peers", 0.22, ((r"site-to-site|site to site|ipsec|phase ?(1|2)|rekey\w*|lifetime"
                                   r"|every (\d+|few) (minutes|hours|mins)|hourly", 1.8), (CONNECTED_BUT, 0.5))),
        Cause("dpd_nat", "NAT-T, dead peer detection or an idle timeout on an upstream device or ISP drops the tunnel "
              "(UDP 500/4500 blocked, CGNAT, hotel or guest Wi-Fi)", "NAT-T/DPD or an idle timeout dropping the "
              "tunnel", 0.18, ((r"drops?|dropping|disconnect\w*|hotel|home|4g|5g|hotspot|cgnat|idle", 1.4),
                               (CONNECTED_BUT, 0.5))),
        Cause("wan_flap", "A WAN link at one end reconnecting (DHCP lease renewal, PPPoE reconnect or an ISP fault), "
              "so the peer address or path changes under the tunnel", "a WAN link at one end reconnecting", 0.12,
              ((r"every (\d+|few) (minutes|hours|mins)|hourly|drops?|dynamic ip|pppoe|dhcp|broadband", 1.4),
               (CONNECTED_BUT, 0.5))),
        Cause("routing_dns", "The tunnel is up but the routes, split-tunnel list or DNS pushed to the client are "
              "wrong, so internal resources are unreachable", "wrong routes, split tunnel or DNS over the tunnel",
              0.2, ((CONNECTED_BUT, 2.5), (r"split tunnel\w*|routes?|subnets?|shares?|mapped drives?|by name", 1.5))),
        Cause("client_config", "The VPN client's version, profile or saved credentials on the device are wrong or "
              "outdated", "an outdated VPN client or profile on the device", 0.22,
              ((ONE_USER + r"|after (the )?update|new laptop", 1.5), (SITE_TO_SITE, 0.15), (CONNECTED_BUT, 0.6))),
        Cause("auth", "The authentication backend rejects the user (RADIUS/NPS, LDAP, SAML/MFA or VPN group "
              "membership)", "the authentication backend rejecting the user", 0.18,
              ((r"radius|nps|ldap|saml|mfa|credentials|authentication fail\w*|login fail\w*|password", 1.8),
               (SITE_TO_SITE, 0.15), (CONNECTED_BUT, 0.4))),
    ),
    steps=(
        StepRule("vpn_log", "Read the VPN event log on the firewall for the failing peer or user (FortiGate: Log & "
                 "Report > Events > VPN; SonicWall/Meraki event log) and note the exact IKE or authentication error",
                 ("log", "vpn|ike|firewall|tunnel|fortigate|auth|sonicwall|meraki|phase|negotiation")),
        StepRule("proposals", "Compare phase 1 and phase 2 settings on both peers (encryption, DH group, lifetimes, "
                 "PSK, local and remote subnets) and make the lifetimes match so rekeys stop dropping the tunnel",
                 ("phase|proposal|lifetime|psk|rekey",), ("ike_mismatch",), (("ike_mismatch", 0.4),)),
        StepRule("nat_dpd", "Verify UDP 500/4500 (NAT-T) reach the gateway, enable dead peer detection and "
                 "keepalives, and test the client from another internet connection such as a phone hotspot",
                 ("udp|nat|dpd|keepalive|hotspot",), ("dpd_nat",), (("dpd_nat", 0.5),)),
        StepRule("wan_events", "Line the drop times up with the WAN events at both ends (firewall event log for link "
                 "down, DHCP renewals or PPPoE reconnects) and the ISP's status; a static IP or a fixed lease stops "
                 "renewal drops", ("wan|isp|pppoe|link down|dhcp renew",), ("wan_flap",), (("wan_flap", 0.5),)),
        StepRule("client_routes", "On a connected client run `route print` and `ipconfig /all` to confirm it "
                 "received routes for the internal subnets and the internal DNS servers",
                 ("route|routing|ipconfig all",), ("routing_dns",), (("routing_dns", 0.7),)),
        StepRule("split_list", "On the VPN gateway check that the split-tunnel (or protected-subnet) list and the NAT "
                 "exemption cover the server's subnet, then reconnect a client and retest",
                 ("split|protected subnet|nat exempt|no nat|encryption domain",), ("routing_dns",),
                 (("routing_dns", 0.4),)),
        StepRule("auth", "Check the user against the VPN's authentication server (NPS/RADIUS log, FortiAuthenticator "
                 "or Entra sign-in log) and confirm their group membership, password and MFA state",
                 ("radius|nps|ldap|saml|authentication|group membership",), ("auth",), (("auth", 0.5),)),
        StepRule("client_reinstall", "Update or reinstall the VPN client (FortiClient, AnyConnect, GlobalProtect) to "
                 "the version the gateway supports and import a clean connection profile",
                 ("reinstall|update|upgrade|install|import", "client|forticlient|anyconnect|globalprotect|profile"),
                 ("client_config",), (("client_config", 0.4),)),
        StepRule("tunnel_flush", "Bring the tunnel down and up from the firewall (FortiGate `diagnose vpn tunnel flush "
                 "<name>`, or clear the SAs) while watching `diagnose debug application ike -1`",
                 ("flush|clear|reset|bring|restart", "tunnel|sa|ike|vpn"), ("ike_mismatch", "dpd_nat")),
        StepRule("peer_ip", "Reboot the remote firewall and ISP router out of hours, then confirm the WAN IP the other "
                 "peer expects has not changed", ("restart|power cycle", "firewall|router|gateway|fortigate|modem"),
                 ("dpd_nat", "ike_mismatch"), (("dpd_nat", 0.8),)),
    ),
    missing=(
        MissingFact("vpn_type", "VPN type and product: site-to-site IPsec or remote-access client, vendor and "
                    "firmware", r"site-to-site|site to site|ipsec|client vpn|remote access|forti\w*|anyconnect"
                    r"|globalprotect|sonicwall|meraki|wireguard|openvpn|firmware|ssl ?vpn|l2tp|ikev2|watchguard"
                    r"|palo alto|firewall"),
        MissingFact("error", "The exact error from the VPN client or the firewall's VPN log", ERROR_KNOWN
                    + r"|negotiation|log shows|failed to"),
        MissingFact("scope", "Whether it fails for every user or site or only one", SCOPE_KNOWN + r"|branch|site"),
        MissingFact("pattern", "Whether it never connects, connects and then drops, or connects but resources are "
                    "unreachable", r"drops?|dropping|disconnect\w*|never connects|won'?t connect|can'?t connect"
                    r"|cannot connect|connected but|connects but|unreachable|every (\d+|few)|hourly"),
        MissingFact("change", "When it started and whether the firewall firmware, the client or the ISP changed",
                    CHANGE_KNOWN + r"|firmware|new isp"),
        MissingFact("user_network", "The network the user is on when it fails (home broadband, hotel, 4G hotspot)",
                    r"home|hotel|4g|5g|hotspot|office|broadband|site-to-site|site to site|branch|ipsec"),
    ),
    risk="medium",
    risk_rules=(RiskRule("high", (r"site-to-site|site to site|branch|whole (office|branch|site)|all remote"
                                  r"|" + ALL_USERS,)),),
)

M365_SIGNIN = Family(
    name="m365_signin",
    label="Microsoft 365 / Outlook sign-in",
    signals=(
        (r"m365|microsoft 365|office 365|o365", 2.0), (r"outlook", 1.5), (r"password prompts?", 3.0),
        (r"(keeps?|keeping|constantly|repeatedly) (prompting|asking)( for (a |the )?(password|credentials))?", 3.0),
        (r"prompt(s|ed|ing)? for (a |the )?(password|credentials)", 3.0), (r"mfa|multi-factor|2fa", 2.5),
        (r"authenticator", 2.5), (r"modern auth\w*", 3.0), (r"conditional access", 3.0),
        (r"azure ad|entra( id)?|aad", 2.0), (r"sign-?ins?|signing in|log ?in to (outlook|teams|office)", 1.5),
        (r"sign-?in logs?", 3.0), (r"aadsts\d*", 3.0), (r"wam|aad broker\w*|brokerplugin", 3.0),
        (r"credential manager", 1.5), (r"exchange online", 2.0), (r"autodiscover", 1.5), (r"teams|onedrive", 1.0),
        (r"dsregcmd|prt", 2.0), (r"need password|needs password", 2.5), (r"tenant", 1.5),
    ),
    causes=(
        Cause("stale_token", "Stale cached credentials or a broken token broker (WAM / AAD BrokerPlugin) on the device "
              "after a password, tenant or licence change", "stale cached credentials or a broken token broker "
              "on the device", 0.28,
              ((r"migrat\w*|password (change|reset)\w*|tenant|keeps? prompting|every (few|\d+) minutes", 1.4),)),
        Cause("ca_mfa", "A Conditional Access or MFA policy blocking or re-prompting (device not compliant, location, "
              "legacy authentication blocked)", "a Conditional Access or MFA policy", 0.16,
              ((r"mfa|conditional access|authenticator|compliant|compliance|intune|location|policy", 1.6),)),
        Cause("legacy_auth", "Outlook using legacy authentication or a wrong Autodiscover target (mailbox still "
              "pointing at the old Exchange or the old tenant after a migration)", "Outlook following an old "
              "Autodiscover target or legacy authentication", 0.2,
              ((r"migrat\w*|autodiscover|old exchange|on-?prem\w*|hybrid|old tenant|basic auth", 1.6),
               (r"only outlook|outlook only|only in outlook"
                r"|(teams|onedrive|browser|owa)( and \w+)? (sign in |work )?fine", 1.8))),
        Cause("account_state", "The account's state in Entra ID: password expired, sign-in blocked, risky user, "
              "licence removed or Smart Lockout", "the account's state in Entra ID (blocked, expired, unlicensed "
              "or risky)", 0.17, ((r"licen[cs]\w*|blocked|risky|password expired|locked|smart lockout", 1.5),)),
        Cause("device_join", "Broken device registration or hybrid join (`dsregcmd` shows AzureAdPrt: NO), so no SSO "
              "token is issued", "broken device registration (no PRT)", 0.15,
              ((r"dsregcmd|prt|hybrid join\w*|azure ad joined|entra joined|intune|new laptop", 1.6),)),
    ),
    steps=(
        StepRule("signin_logs", "Check the user's Entra ID sign-in logs (entra.microsoft.com > Users > Sign-in logs) "
                 "for the failure code, the client app and which Conditional Access policy applied",
                 ("sign|signin", "log")),
        StepRule("credential_manager", "Remove the MicrosoftOffice16 / Office entries from Windows Credential Manager, "
                 "sign out of Office (File > Office Account > Sign out) and sign back in",
                 ("credential|password", "clear|remove|delete|purge|wipe|cache"), ("stale_token",),
                 (("stale_token", 0.5),)),
        StepRule("token_broker", "Reset the token broker: disconnect and re-add the account under Settings > Accounts "
                 "> Access work or school, and re-register the AAD BrokerPlugin package",
                 ("broker|wam|brokerplugin|access work|work or school",), ("stale_token", "device_join"),
                 (("stale_token", 0.6),)),
        StepRule("outlook_web", "Have the user sign in to Outlook on the web (outlook.office.com) in a private window: "
                 "if that prompts too the account or policy is at fault, not the device",
                 ("owa|outlook on the web|web|browser|private|incognito",), ("account_state", "ca_mfa")),
        StepRule("dsregcmd", "Run `dsregcmd /status` and check AzureAdJoined and AzureAdPrt; fix the device "
                 "registration or hybrid join if there is no PRT", ("dsregcmd|prt|hybrid join",),
                 ("device_join",), (("device_join", 0.4),)),
        StepRule("account_admin", "In the Microsoft 365 admin centre check the user's licence, sign-in status, MFA "
                 "methods and Identity Protection risk; revoke sessions and have the user re-register MFA if needed",
                 ("licen*|licen*|mfa|revoke|session|admin centre|admin center",), ("account_state", "ca_mfa"),
                 (("account_state", 0.5), ("ca_mfa", 0.7))),
        StepRule("autodiscover", "Run the Microsoft Remote Connectivity Analyzer Autodiscover test and check the "
                 "Autodiscover DNS record and any Autodiscover registry overrides still pointing at the old Exchange",
                 ("autodiscover|analyzer|connectivity analyzer",), ("legacy_auth",), (("legacy_auth", 0.4),)),
        StepRule("outlook_profile", "Create a new Outlook profile (Control Panel > Mail > Show Profiles) and test with "
                 "it", ("profile", "new|create|recreate|rebuild"), ("stale_token", "legacy_auth"),
                 (("stale_token", 0.6), ("legacy_auth", 0.7))),
        StepRule("office_repair", "Update Office (File > Office Account > Update Options) and run a Quick Repair from "
                 "Apps & features", ("repair|update", "office|outlook|app"), ("stale_token",), (("stale_token", 0.8),)),
    ),
    missing=(
        MissingFact("apps", "Which apps prompt: Outlook only, Teams and OneDrive too, or the browser as well",
                    r"teams|onedrive|browser|owa|outlook on the web|all apps|only outlook|outlook only|word|excel"),
        MissingFact("error", "The sign-in error code from the prompt or the Entra sign-in log (e.g. AADSTS50076)",
                    r"aadsts\d*|sign-?in logs?|error code|0x[0-9a-f]{4,}"),
        MissingFact("scope", "Whether other users in the tenant are affected", SCOPE_KNOWN),
        MissingFact("join_state", "The device's join state from `dsregcmd /status` (Entra joined, hybrid joined or "
                    "personal)", r"dsregcmd|azure ad joined|entra joined|hybrid\w*|joined|byod|personal (device|laptop)"
                    r"|intune"),
        MissingFact("change", "What changed recently: migration, password change, MFA or Conditional Access change, "
                    "licence change", CHANGE_KNOWN + r"|password (change|reset)|conditional access|licen[cs]e"),
        MissingFact("version", "Office/Outlook version and update channel",
                    r"version|build|16\.\d+|microsoft 365 apps|office 20\d\d|current channel|monthly enterprise"),
    ),
    risk="medium",
    risk_rules=(RiskRule("high", (ALL_USERS + r"|many users|several users|multiple users|\d+ users|tenant-wide"
                                  r"|mfa fatigue|suspicious|risky (user|sign-?in)|impossible travel",)),),
)

ACCOUNT_LOCKOUT = Family(
    name="account_lockout",
    label="Active Directory account lockout",
    signals=(
        (r"locked out|locking out|locks out|keeps locking", 3.0), (r"lockouts?", 3.0), (r"account (is )?locked", 3.0),
        (r"bad ?pwd ?count|bad password (count|attempts?)|badpwdcount|lastbadpasswordattempt", 3.0),
        (r"(event( id)? )?4740", 3.0), (r"4625|4771", 2.0), (r"lockoutstatus(\.exe)?|account lockout status", 3.0),
        (r"unlock(ed|ing|s)?", 2.0), (r"active directory|aduc|ad", 1.0), (r"pdc( emulator)?", 2.0),
        (r"domain controllers?|dc\d*", 1.0), (r"failed logons?|logon failures?", 2.0), (r"kerberos", 1.5),
        (r"password spray\w*|brute[- ]force\w*", 2.0), (r"(password|pwd) (changed|reset|expired)", 1.0),
    ),
    causes=(
        Cause("stale_device", "A device or session still using the old password (phone mail app, mapped drive, saved "
              "Credential Manager or RDP entry, disconnected RDP session)", "a device or session still using the "
              "old password", 0.33,
              ((r"after (a |the |his |her |their )?password (change|reset)|changed (his|her|their) password|phone"
                r"|mobile|mapped drives?|rdp", 1.5),)),
        Cause("service_task", "A service, scheduled task or application running as the user with the old password",
              "a service or scheduled task running with the old password", 0.2,
              ((r"service accounts?|scheduled tasks?|svc\w*|app pool|sql|every (\d+|few) minutes", 1.8),)),
        Cause("mobile_sync", "A phone mail client (ActiveSync) with a saved old password hitting Exchange or ADFS",
              "a phone mail client with the old password", 0.15,
              ((r"phone|iphone|android|activesync|mobile|mail app", 1.8),)),
        Cause("attack", "Password spraying or brute force against an exposed service (RDP, VPN, OWA, ADFS)",
              "password spraying or brute force against an exposed service", 0.17,
              ((r"many users|multiple users|several users|all users|\d+ (users|accounts)|spray\w*|brute\w*"
                r"|external ip|exposed|unknown ip|foreign|overnight", 2.5),)),
        Cause("policy", "An over-aggressive lockout policy or AD replication delays between DCs",
              "an over-aggressive lockout policy or replication delays", 0.12,
              ((r"policy|threshold|replication|gpo|pso", 1.6),)),
    ),
    steps=(
        StepRule("find_source", "Find the lockout source: on the PDC emulator filter the Security log for event 4740 "
                 "and read Caller Computer Name (or run LockoutStatus.exe / `Get-WinEvent -FilterHashtable "
                 "@{LogName='Security';Id=4740}`)", ("4740|lockoutstatus|caller|source",)),
        StepRule("bad_password", "Compare `badPwdCount` and `LastBadPasswordAttempt` on every DC (`Get-ADUser <user> "
                 "-Properties badPwdCount,LastBadPasswordAttempt -Server <DC>`) to see where and when bad attempts "
                 "land",
                 ("badpwdcount|lastbadpasswordattempt|bad password count|badpwd",)),
        StepRule("stale_phone", "Update or remove the old password in the user's phone mail and Teams apps (or "
                 "temporarily block the phone's ActiveSync device in the Exchange admin centre) and watch whether the "
                 "lockouts stop", ("phone|iphone|android|mobile|activesync",
                                   "remove|clear|update|delete|change|wipe|block|reenter|re enter"),
                 ("mobile_sync", "stale_device"), (("mobile_sync", 0.4), ("stale_device", 0.8))),
        StepRule("stale_sessions", "On the caller computer clear stored passwords (Credential Manager, mapped drives "
                 "with saved credentials) and log off the user's disconnected RDP sessions (`query user "
                 "/server:<host>`, `logoff <id> /server:<host>`)",
                 ("credential|mapped drive|rdp|session", "clear|remove|delete|logoff|log off|update|wipe"),
                 ("stale_device",), (("stale_device", 0.5),)),
        StepRule("services_tasks", "On the caller computer look for services and scheduled tasks running as the user "
                 "(`Get-CimInstance Win32_Service | ? StartName -like '*<user>*'`, Task Scheduler) and move them to a "
                 "service account", ("scheduled task|task scheduler|win32 service|service account|service run",),
                 ("service_task",), (("service_task", 0.4),)),
        StepRule("attack", "If 4740/4625 events show external or many sources, treat it as an attack: check the "
                 "firewall, VPN and OWA logs for the source IPs, block them and confirm RDP is not exposed",
                 ("4625|source ip|brute|spray|block ip|external ip",), ("attack",), (("attack", 0.5),)),
        StepRule("netlogon", "If 4740 names no caller, enable Netlogon debug logging on the PDC (`nltest "
                 "/dbflag:0x2080ffff`) to see the workstation and process sending the bad password",
                 ("netlogon|nltest",), follow_up=True),
        StepRule("policy", "Review the lockout policy (Default Domain Policy or fine-grained PSO: threshold, duration, "
                 "reset counter) and replication (`repadmin /replsummary`)",
                 ("lockout policy|pso|repadmin|fine grained|threshold",), ("policy",), (("policy", 0.5),)),
        StepRule("unlock", "Unlock the account (ADUC > Account tab or `Unlock-ADAccount`) only after the source is "
                 "removed, then watch `badPwdCount` for 15 minutes", ("unlock|reset password",),
                 (), (("stale_device", 1.3), ("service_task", 1.3)), follow_up=True),
    ),
    missing=(
        MissingFact("source", "Which computer the 4740 event names as the lockout source (Caller Computer Name)",
                    r"4740|caller computer\w*|lockoutstatus|lockout status|source (is|was|computer)"
                    r"|locked out (by|from)"),
        MissingFact("scope", "How many accounts are locking out, and whether admin or service accounts are among them",
                    SCOPE_KNOWN + r"|service accounts?|admin accounts?|only (his|her|their) account|one account"
                    r"|all accounts|several accounts"),
        MissingFact("devices", "Whether the password changed recently and which devices the user signs in on (phone "
                    "mail, laptop, RDP)", r"password (was )?(changed|reset|expired)|phones?|iphone|android|mobile"),
        MissingFact("frequency", "How soon it locks again after an unlock", r"every (\d+|few)|within \d+|immediately"
                    r"|again after|re-?lock\w*|minutes?|hours?"),
        MissingFact("policy", "The domain lockout policy (threshold and reset window)",
                    r"threshold|lockout policy|pso|observation window|reset (account lockout )?counter"),
        MissingFact("exposure", "Whether RDP, VPN, OWA or ADFS is exposed to the internet",
                    r"exposed|internet-facing|owa|adfs|rdp|vpn"),
    ),
    risk="medium",
    risk_rules=(
        RiskRule("high", (r"many users|multiple users|several users|all users|\d+ (users|accounts)|several accounts"
                          r"|multiple accounts|spray\w*|brute\w*|" + ALL_USERS,)),
        RiskRule("high", (r"domain admin|administrator|admin account|service account",)),
    ),
)

PRINTER = Family(
    name="printer",
    label="printing (spooler, queue or driver)",
    signals=(
        (r"printers?", 3.0), (r"print spooler|spooler|spoolsv(\.exe)?", 3.0), (r"print queues?|printer queues?", 3.0),
        (r"(?<!route )print(ing|s|ed)?|print jobs?", 2.0), (r"toner|paper jam|jammed|fuser|tray \d", 2.5),
        (r"print server|print management|printmanagement\.msc", 3.0), (r"printnightmare|point and print", 3.0),
        (r"universal print", 3.0), (r"mfp|mfd|copier|plotter", 2.0), (r"scan to (email|folder)", 1.5),
        (r"hp|ricoh|kyocera|brother|canon|xerox|konica|lexmark|epson|zebra|sharp", 1.0), (r"test page", 2.5),
        (r"drivers?", 0.5),
    ),
    causes=(
        Cause("spooler_hung", "The Print Spooler service hung or crashing on the PC or the print server",
              "a hung or crashing Print Spooler", 0.26,
              ((r"spooler (stops|stopped|crash\w*|keeps stopping|won'?t start)|7031|7034|spoolsv", 1.8),)),
        Cause("stuck_job", "A stuck or corrupt job blocking the queue", "a stuck job blocking the queue", 0.22,
              ((r"stuck|queue|pending|deleting|error - printing|jobs? (won'?t|will not|don'?t) (delete|clear)", 1.5),)),
        Cause("driver", "A corrupt, wrong or recently updated printer driver (often after a Windows update or a mix of "
              "type 3 and type 4 drivers)", "a corrupt or mismatched printer driver", 0.2,
              ((r"drivers?|after (the |a )?(windows )?update|kb\d{6,}|garbled|gibberish|strange characters|pcl|ps"
                r"|blank pages?", 1.6), (r"spooler (keeps )?(stopp|crash)\w*|7031|7034", 1.4))),
        Cause("connectivity", "The printer is unreachable on the network: its IP changed (DHCP), the port points at an "
              "old IP or a WSD port, or the printer sleeps", "the printer's IP or port no longer matching", 0.2,
              ((r"offline|ping\w*|ip (address )?(changed|conflict)|wsd|dhcp|unreachable|moved|new router", 1.6),)),
        Cause("device", "A hardware or consumable fault on the printer (jam, toner, tray, error on the panel)",
              "a fault on the printer itself", 0.12,
              ((r"jam\w*|toner|paper|panel|tray|fuser|error on the (printer|display|screen)|beep\w*", 2.5),)),
    ),
    steps=(
        StepRule("restart_spooler", "Restart the Print Spooler service (`Restart-Service Spooler -Force` or "
                 "services.msc) on the PC, and on the print server if the printer is shared",
                 ("restart|stop start|recycl", "spool|spooler"), ("spooler_hung",),
                 (("spooler_hung", 0.35), ("stuck_job", 1.3), ("driver", 1.4))),
        StepRule("clear_queue", "Clear stuck jobs: stop the Spooler, delete the files in "
                 "`C:\\Windows\\System32\\spool\\PRINTERS`, start the Spooler again and print a test page",
                 ("clear|delete|purge|cancel|flush|empty", "queue|job|spool|printers"), ("stuck_job",),
                 (("stuck_job", 0.4), ("spooler_hung", 0.8))),
        StepRule("reachability", "Check the printer is reachable: ping it, open its web page and compare the IP on "
                 "its panel with Printer properties > Ports; replace a WSD port with a Standard TCP/IP port and "
                 "reserve the IP in DHCP", ("ping|port|ip address|web page|reachable|ip",), ("connectivity",),
                 (("connectivity", 0.45),)),
        StepRule("driver", "Remove the printer and its driver package (Print Management or `printui /s /t2`) and "
                 "reinstall it with the manufacturer's current type 4 or universal driver",
                 ("driver", "reinstall|remove|update|replace|install|delete|roll|change"), ("driver",),
                 (("driver", 0.4),)),
        StepRule("isolate", "Print a configuration page from the printer's own panel and a test page from another PC "
                 "to separate a device fault from a PC or queue problem",
                 ("test page|another pc|other pc|another computer|different pc|second pc|configuration page"
                  "|test print",),
                 ("device", "driver", "spooler_hung")),
        StepRule("device_panel", "Check the printer's panel and web page for jams, toner or tray errors, then "
                 "power-cycle the printer", ("power cycle|turn off|restart printer|jam|toner|panel",), ("device",),
                 (("device", 0.5),)),
        StepRule("windows_update", "Check Windows Update history for a recent print-related KB (Point and Print "
                 "changes) and test with that update removed or the driver re-approved on the print server",
                 ("windows update|kb|update history|uninstall",), ("driver",), (("driver", 0.7),)),
        StepRule("deployment", "On the print server check Print Management for the queue's status and driver "
                 "isolation, and confirm the GPO or Intune policy still deploys the printer",
                 ("print management|gpo|group policy|intune",), ("connectivity", "driver")),
    ),
    missing=(
        MissingFact("scope", "Whether it is one user, one printer or every printer at the site",
                    SCOPE_KNOWN + r"|all printers|every printer|one printer|this printer|the only printer"),
        MissingFact("connection", "How the printer is connected: direct IP, WSD, USB or shared from a print server",
                    r"print server|shared|usb|wsd|tcp/?ip|direct ip|\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}"
                    r"|network printer|universal print|over the network|networked"),
        MissingFact("model", "Printer make and model and the driver in use",
                    r"hp|ricoh|kyocera|brother|canon|xerox|konica|lexmark|epson|zebra|sharp|model|pcl\d?|ps"),
        MissingFact("queue", "What the queue shows (stuck jobs, 'Error - Printing', Offline) and any message on the "
                    "printer's panel", r"queue shows|stuck|error - printing|offline|panel|pending|paused|jam\w*"
                    r"|toner|display"),
        MissingFact("change", "When it last worked and whether Windows or driver updates installed since",
                    r"last worked|worked (fine )?(until|yesterday|last)|since|after (the |a )?(windows )?update"
                    r"|kb\d+|yesterday|this morning"),
    ),
    risk="low",
    risk_rules=(
        RiskRule("medium", (r"all printers|every printer|whole office|all users|print server|everyone|nobody can print"
                            r"|several users|multiple users|pharmacy|prescriptions?|labels|warehouse|invoices|payroll"
                            r"|cheques",)),
    ),
)

DISK_SPACE = Family(
    name="disk_space",
    label="low disk space",
    signals=(
        (r"disk space|drive space|free space|storage space", 3.0), (r"low (disk|storage|on (disk )?space)", 3.0),
        (r"(disk|drive|volume|partition)( is| was)? (full|filling( up)?|almost full|nearly full)", 3.0),
        (r"out of (disk )?space|no space left|0 bytes free|running out of space", 3.0),
        (r"c:|c drive|system drive", 2.5), (r"\d+ ?(kb|mb|gb|%) (free|left|remaining)", 3.0),
        (r"winsxs|softwaredistribution|windows\.old", 2.5), (r"treesize|wiztree|windirstat", 3.0),
        (r"cleanmgr|disk cleanup|storage sense", 3.0), (r"pagefile(\.sys)?|hiberfil(\.sys)?", 2.0),
        (r"disk usage|volume|partition", 1.0), (r"storage", 1.0), (r"temp files|%temp%", 1.5),
    ),
    causes=(
        Cause("updates_temp", "Windows Update leftovers, temp files and old components (SoftwareDistribution, WinSxS, "
              "Windows.old) filling the system drive", "Windows Update leftovers and temp files", 0.24,
              ((r"windows\.old|softwaredistribution|winsxs|feature update|upgrad\w*|temp", 1.6),)),
        Cause("logs_growth", "An application or service writing runaway logs or dumps (IIS logs, SQL transaction log, "
              "memory.dmp, agent caches)", "runaway logs or dumps", 0.22,
              ((r"logs?|iis|sql|\.ldf|transaction log|dumps?|\.dmp|growing|overnight|fast", 1.5),)),
        Cause("user_data", "User data or synced content on the system drive (OneDrive/Dropbox local copies, "
              "Downloads, PST files, old profiles)", "user data or synced files on the system drive", 0.2,
              ((r"onedrive|dropbox|pst|ost|downloads|profiles?|desktop|user folders?|laptop", 1.6),)),
        Cause("shadow_backup", "Shadow copies, restore points or local backup/snapshot files using the volume",
              "shadow copies or local backup files", 0.14,
              ((r"shadow|vss|restore points?|snapshots?|veeam|backups?", 1.6),)),
        Cause("undersized", "The volume is undersized for its role and needs extending or data moved off it",
              "an undersized volume", 0.2,
              ((r"server|vm|virtual|hyper-?v|vmware|small|(30|40|60|64|80|100|120|128) ?gb (disk|drive|volume|c)",
                1.3),)),
    ),
    steps=(
        StepRule("find_usage", "Find what is using the space with TreeSize or WizTree run as administrator (or "
                 "`Get-ChildItem C:\\ -Recurse -File -ErrorAction SilentlyContinue | Sort-Object Length -Descending "
                 "| Select-Object -First 20`)", ("treesize|wiztree|windirstat|largest|biggest|what is using",)),
        StepRule("disk_cleanup", "Run Disk Cleanup as administrator with 'Clean up system files' (or Storage Sense) "
                 "to remove Windows Update leftovers, Windows.old and temp files",
                 ("disk cleanup|cleanmgr|storage sense|temp|clean up|cleanup",), ("updates_temp",),
                 (("updates_temp", 0.45),)),
        StepRule("update_cache", "Stop the Windows Update service (`net stop wuauserv`), delete "
                 "`C:\\Windows\\SoftwareDistribution\\Download` and start the service again",
                 ("softwaredistribution|wuauserv",), ("updates_temp",), (("updates_temp", 0.6),)),
        StepRule("component_store", "Shrink the component store with `Dism /Online /Cleanup-Image "
                 "/StartComponentCleanup` (add /ResetBase on servers where update rollback is not needed)",
                 ("dism|startcomponentcleanup|winsxs|component store",), ("updates_temp",), (("updates_temp", 0.6),)),
        StepRule("logs", "Look for runaway logs and dumps (C:\\inetpub\\logs, C:\\Windows\\memory.dmp, SQL .ldf, RMM "
                 "or AV caches) and set rotation or truncation instead of deleting blindly",
                 ("log|dump|dmp|ldf", "delete|clear|purge|rotate|truncate|check|move|remove|shrink"), ("logs_growth",),
                 (("logs_growth", 0.5),)),
        StepRule("shadow_storage", "Check shadow copy storage (`vssadmin list shadowstorage`) and cap it (`vssadmin "
                 "resize shadowstorage /for=C: /on=C: /maxsize=10%`); review local backup or snapshot files",
                 ("vssadmin|shadow|restore point",), ("shadow_backup",), (("shadow_backup", 0.5),)),
        StepRule("user_data", "Move user data off the system drive: OneDrive Files On-Demand, relocate PST files and "
                 "large Downloads, and remove stale user profiles (System > Advanced > User Profiles)",
                 ("onedrive|pst|profile|download|files on demand", "move|remove|delete|relocate|free|clear|set"),
                 ("user_data",), (("user_data", 0.5),)),
        StepRule("extend", "If it is a VM, extend the virtual disk in the hypervisor and then the volume (Disk "
                 "Management > Extend Volume or `Resize-Partition`), checking the datastore has room first",
                 ("extend|resize partition|expand|grow|add space|increase",), ("undersized",),
                 (("undersized", 0.5),)),
        StepRule("hibernation", "Disable hibernation where it is not needed (`powercfg /h off`) and right-size the "
                 "page file", ("hibernat*|powercfg|hiberfil|page file|pagefile",), ("undersized",)),
        StepRule("monitor", "Add an RMM disk-space threshold monitor for the volume so it is caught before it fills "
                 "again", ("monitor|alert|threshold",), follow_up=True),
    ),
    missing=(
        MissingFact("volume", "Which volume is full, its size and the free space now",
                    r"c:|d:|e:|\d+ ?(kb|mb|gb|tb|%)|c drive|d drive"),
        MissingFact("role", "Whether it is a workstation or a server and the server's role (file, SQL, Exchange, RDS, "
                    "DC)", r"servers?|workstation|laptop|desktop|pc|sql|exchange|rds|file server|domain controller"
                    r"|dc\d*|vm|hyper-?v|vmware"),
        MissingFact("usage", "What is using the space (TreeSize or WizTree output)",
                    r"treesize|wiztree|windirstat|largest folders?|biggest|taking up|using \d+|\d+ ?gb (in|of|under)"
                    r"|winsxs|softwaredistribution|\.pst|logs? folders?"),
        MissingFact("growth", "How fast it is filling (sudden or gradual growth)",
                    r"overnight|sudden\w*|gradual\w*|per day|a day|growing|fast|slowly|over the last"),
        MissingFact("virtual", "Whether it is a VM whose disk can be extended, and the datastore's headroom",
                    r"vm|virtual|hyper-?v|vmware|esxi|azure|datastore|physical|laptop|desktop"),
    ),
    risk="medium",
    risk_rules=(
        RiskRule("high", (r"servers?|sql|exchange|database|domain controller|dc\d*|0 bytes|no space left|rds"
                          r"|hyper-?v|datastore|services? (stopped|failed|crash\w*)",)),
        RiskRule("low", (r"laptop|workstation|desktop|" + ONE_USER,)),
    ),
)

CERTIFICATE = Family(
    name="certificate",
    label="TLS/SSL certificate",
    signals=(
        (r"certificates?|certs?", 3.0), (r"ssl|tls", 2.0), (r"expired|expir(y|es|ing|ation)", 1.0),
        (r"chain|intermediate( ca| certificate)?|root ca", 2.0), (r"let'?s ?encrypt|acme|certbot|win-acme", 3.0),
        (r"net::err_cert\w*|err_cert\w*|not secure|your connection is not private|sec_error\w*", 3.0),
        (r"subject alternative names?|san|common name|wildcard", 2.0), (r"csr|pfx|pem|thumbprint", 2.5),
        (r"certlm(\.msc)?|certmgr(\.msc)?", 3.0), (r"sectigo|digicert|godaddy|globalsign|comodo", 2.0),
        (r"https", 1.0), (r"handshake", 1.5),
    ),
    causes=(
        Cause("expired", "The certificate expired or its auto-renewal (ACME/Let's Encrypt or vendor auto-renew) "
              "failed", "an expired certificate whose renewal failed", 0.32,
              ((r"expired|expir\w*|renew\w*|let'?s ?encrypt|acme|certbot|win-acme|date_invalid", 1.6),)),
        Cause("not_bound", "A renewed certificate not bound or not deployed everywhere (IIS binding, Exchange "
              "services, load balancer, firewall SSL VPN or inspection, RD Gateway)", "a renewed certificate not bound "
              "everywhere it is served", 0.2,
              ((r"renewed|new cert\w*|binding|bound|iis|exchange|rd ?gateway|load balancer"
                r"|still (show|shows|serving|serves|presents)|old (one|cert\w*)", 1.7),)),
        Cause("chain", "An incomplete chain: the server does not send the intermediate CA certificate (fine in some "
              "browsers, failing on phones, Java or appliances)", "an incomplete certificate chain", 0.2,
              ((r"chain|intermediate|some (browsers|devices)|android|iphone|java|works in chrome|incomplete", 2.0),)),
        Cause("name_mismatch", "A name mismatch: the hostname used is not in the certificate's SAN list (new alias, "
              "wildcard depth, internal name)", "a name missing from the certificate's SAN list", 0.16,
              ((r"mismatch|common name|cn|san|subject alternative|wildcard|hostname|common_name_invalid", 2.0),)),
        Cause("client_trust", "A client-side trust or clock problem: internal CA root or SSL-inspection CA not trusted "
              "on the device, or the device's clock is wrong", "a client not trusting the issuing CA or with a "
              "wrong clock", 0.12,
              ((r"internal ca|root ca|not trusted|untrusted|ssl inspection|deep inspection|clock|time zone"
                r"|date and time|" + ONE_USER, 1.6),)),
    ),
    steps=(
        StepRule("inspect", "Check what the server actually presents with `openssl s_client -connect <host>:443 "
                 "-servername <host> -showcerts` (or SSL Labs for a public site): expiry, SAN names and the chain",
                 ("openssl|s client|ssl lab|ssllabs|showcerts|inspect",)),
        StepRule("renew", "Renew or re-issue the certificate with the same SANs (check the ACME client's log and "
                 "scheduled task, e.g. win-acme or certbot, or reissue through the CA) and note the new thumbprint",
                 ("renew|reissue|re issu|new certificate",), ("expired",),
                 (("expired", 0.35), ("not_bound", 1.8), ("chain", 1.3))),
        StepRule("bindings", "Bind the new certificate everywhere it is served: IIS site bindings, "
                 "`Enable-ExchangeCertificate`, RD Gateway, the firewall's SSL VPN and any load balancer or reverse "
                 "proxy", ("bind|bound|enable exchangecertificate|deploy",), ("not_bound",), (("not_bound", 0.4),)),
        StepRule("chain", "Install the full chain on the server (leaf plus intermediate: import the CA bundle into "
                 "Intermediate Certification Authorities or serve fullchain.pem) and retest with SSL Labs",
                 ("chain|intermediate|fullchain|bundle",), ("chain",), (("chain", 0.4),)),
        StepRule("san", "Compare the hostname users type with the certificate's SAN list and reissue it with the "
                 "missing names, or point users at a covered name", ("san|subject alternative|hostname|common name",),
                 ("name_mismatch",), (("name_mismatch", 0.5),)),
        StepRule("client_trust", "On an affected client check the clock and time zone and whether the issuing root "
                 "or intermediate (or the firewall's SSL-inspection CA) is in certlm.msc > Trusted Root; push it by "
                 "GPO or Intune if missing", ("certlm|trusted root|root ca|clock|time|inspect ca",),
                 ("client_trust",), (("client_trust", 0.5),)),
        StepRule("reload_services", "Run `iisreset` or restart the services that cache the certificate (Exchange "
                 "transport, RD Gateway) so they serve the new one",
                 ("iisreset|restart iis|restart service|restart gateway|restart exchange",), ("not_bound",)),
        StepRule("monitor", "Add the endpoint to certificate-expiry monitoring and record where the certificate is "
                 "deployed in the client's documentation", ("monitor|document",), follow_up=True),
    ),
    missing=(
        MissingFact("error", "The URL that fails and the exact browser or client error (e.g. "
                    "NET::ERR_CERT_DATE_INVALID)", r"err_cert\w*|net::\w+|https?://\S+|not secure|not private"
                    r"|sec_error\w*|[\w-]+\.[\w-]+\.(com|net|org|co\.uk|io)"),
        MissingFact("details", "The certificate's expiry date, issuer and SANs",
                    r"expir(es|ed|y) (on|date)|valid (until|to|from)|issuer|issued by|san|subject alternative"
                    r"|thumbprint|let'?s ?encrypt|sectigo|digicert|godaddy|\d{4}-\d{2}-\d{2}"),
        MissingFact("deployment", "Where the certificate is deployed (IIS, Exchange, firewall SSL VPN, load balancer, "
                    "RD Gateway, appliance)", r"iis|exchange|firewall|load balancer|rd ?gateway|appliance|nginx"
                    r"|apache|azure|aws|reverse proxy|ssl ?vpn|sslvpn"),
        MissingFact("exposure", "Whether it is a public-facing production service or an internal one",
                    r"public|external|internet|customers?|production|prod|internal|intranet"),
        MissingFact("scope", "Whether every client fails or only some devices or browsers",
                    SCOPE_KNOWN + r"|all browsers|some browsers|only (on )?(phones|android|iphone|chrome|edge|firefox)"
                    r"|every (browser|device)"),
        MissingFact("renewal", "How the certificate is renewed (ACME automation or manual order) and who holds the CA "
                    "account", r"acme|win-acme|certbot|let'?s ?encrypt|auto-?renew\w*|manual\w*|ca account|ordered"
                    r"|purchased|reseller"),
    ),
    risk="medium",
    risk_rules=(
        RiskRule("high", (r"expired|expir\w*|date_invalid", r"production|prod|public|customers?|website|portal|owa"
                          r"|exchange|mail|ssl ?vpn|sslvpn|rd ?gateway|all users|e-?commerce|shop|payments?",)),
        RiskRule("low", (r"internal|test|lab|dev|staging",)),
    ),
)

BACKUP = Family(
    name="backup",
    label="backup job failure",
    signals=(
        (r"backups?|back(ed|ing)? up", 3.0), (r"veeam|acronis|axcient|storagecraft|shadowprotect|macrium", 3.0),
        (r"datto(?! rmm)|cove|n-able backup|synology active backup|windows server backup|wbadmin", 3.0),
        (r"backup jobs?|jobs? failed|failed jobs?", 2.0), (r"restore points?|recovery points?", 2.0),
        (r"restor(e|es|ed|ing)", 1.5), (r"vss writers?|writers? (failed|in a failed state)", 3.0), (r"vss", 2.0),
        (r"retention|repository|repositories|offsite|off-site|immutable", 2.0), (r"snapshots?", 1.5),
        (r"synthetic full|incremental|full backup|backup chain|merge", 2.5), (r"replication|replica", 1.0),
        (r"wasabi|backblaze|b2|s3 bucket", 1.5), (r"bdr|siris|alto", 2.0),
    ),
    causes=(
        Cause("vss", "A VSS writer or snapshot failure on the protected machine (writer in a failed state, shadow "
              "storage full)", "a VSS writer or snapshot failure", 0.25,
              ((r"vss|writers?|snapshots?|shadow|0x800423f\w*|quiesc\w*", 1.8),)),
        Cause("target_storage", "A problem with the backup target: repository or NAS full or offline, permissions, or "
              "the offsite/cloud target unreachable or its credentials expired", "a full or unreachable backup "
              "target", 0.22, ((r"repositor(y|ies)|target|nas|full|space|offsite|off-site|cloud|wasabi|backblaze|s3"
                                r"|credentials?|access denied|unreachable|immutable", 1.6),)),
        Cause("chain_retention", "A corrupt backup chain or failing retention/merge (synthetic full or merge errors, "
              "chain broken after a move)", "a corrupt chain or failing merge", 0.2,
              ((r"chain|merge|synthetic|retention|corrupt\w*|health check|incremental|vib|vbk", 1.8),)),
        Cause("agent_service", "The backup agent or service stopped, is outdated or lost its connection to the "
              "appliance or console", "the backup agent stopped or disconnected", 0.18,
              ((r"agent|service (stopped|not running)|not checking in|licen[cs]\w*|offline|updat\w*", 1.5),)),
        Cause("locked_files", "Locked files, antivirus interference or changed data paths causing file-level errors",
              "locked files or antivirus interference", 0.15,
              ((r"locked|in use|antivirus|av|exclusions?|paths?|file not found|permissions?", 1.6),)),
    ),
    steps=(
        StepRule("job_log", "Open the failed job's session log in the backup console (Veeam: Home > Jobs > History; "
                 "Datto: the device's Backup page) and record the exact error and the first failing object",
                 ("log|error|history", "job|session|console|backup")),
        StepRule("restore_point", "Confirm the newest good restore point and test a file-level restore from it, so the "
                 "client knows the real recovery point age", ("restor|recovery point",)),
        StepRule("vss_writers", "On the protected server run `vssadmin list writers` and `vssadmin list "
                 "shadowstorage` and note every writer that is not Stable",
                 ("vssadmin|list writers|writer|sqlserverwriter",), ("vss",)),
        StepRule("vss_reset", "Reset the failed writer by restarting the service behind it (SqlServerWriter: SQL "
                 "Server VSS Writer; Hyper-V: VMMS; System Writer: Cryptographic Services) or reboot the server out of "
                 "hours, and confirm the writer is Stable before the next run",
                 ("writer|vss", "restart|reset|fix|clear"), ("vss",), (("vss", 0.4),)),
        StepRule("target", "Check the backup target: free space and reachability of the repository or NAS, the share "
                 "credentials, and the offsite/cloud copy's status and keys",
                 ("repository|target|nas|storage|offsite|cloud|space", "check|verify|test|free|clear|expand|add"),
                 ("target_storage",), (("target_storage", 0.45),)),
        StepRule("agent", "Check the backup agent and vendor services (Veeam, Datto, Acronis) are running and current "
                 "on the machine, restart them if stopped, and confirm they reach the appliance or cloud",
                 ("agent|service", "backup|veeam|datto|acronis|agent|restart"), ("agent_service",),
                 (("agent_service", 0.45),)),
        StepRule("chain_health", "Run a health check or repair on the backup chain (Veeam storage-level corruption "
                 "guard, Datto screenshot verification) and start a new chain if it is corrupt",
                 ("health check|corrupt|repair|new chain|chain",), ("chain_retention",), (("chain_retention", 0.4),)),
        StepRule("manual_run", "Run the job manually out of hours (an active full if the chain is suspect) and watch "
                 "it live",
                 ("retry|rerun|re run|manual|active full|full backup|run the job|ran the job", "job|backup|full"),
                 ("chain_retention",), (("chain_retention", 0.7), ("vss", 1.2), ("target_storage", 1.2))),
        StepRule("exclusions", "Add the vendor's recommended antivirus/EDR exclusions for the backup agent and "
                 "repository paths and check the log for locked files", ("exclusion|exclude",), ("locked_files",),
                 (("locked_files", 0.5),)),
    ),
    missing=(
        MissingFact("product", "Backup product and job type (image, file, VM, Microsoft 365) and where it writes",
                    r"veeam|datto|acronis|axcient|cove|n-able|storagecraft|shadowprotect|synology|windows server backup"
                    r"|wbadmin|macrium|image|file-level|vm|nas|repositor(y|ies)|cloud"),
        MissingFact("error", "The exact error from the job log", ERROR_KNOWN + r"|failed (with|:)|log (says|shows)"),
        MissingFact("last_good", "When the last successful backup ran (the current recovery point age)",
                    r"last (good|successful)|since|days?|weeks?|last night|yesterday|\d+ (failed )?(runs|jobs|nights)"
                    r"|consecutive"),
        MissingFact("scope", "Whether other jobs or machines on the same target fail too",
                    SCOPE_KNOWN + r"|other jobs|all jobs|only (this|one) (job|server|machine)|every job"),
        MissingFact("change", "Recent changes on the protected machine or target (updates, new volumes, password "
                    "changes, storage moves)", CHANGE_KNOWN + r"|new (disk|volume|nas)|moved|password"),
    ),
    risk="high",
)

NETWORK_WIFI = Family(
    name="network_wifi",
    label="network / Wi-Fi connectivity",
    signals=(
        (r"wi-?fi|wireless|wlan", 3.0), (r"ssids?", 3.0), (r"access points?|aps?", 2.0), (r"dhcp", 3.0),
        (r"ip conflict|apipa|169\.254(\.\d+){0,2}", 3.0), (r"switch(es)? ?ports?|switch(es)?", 1.5), (r"vlans?", 2.5),
        (r"packet loss|dropped packets|losing packets", 3.0), (r"latency|jitter", 2.0),
        (r"slow (network|internet|connection|wi-?fi|broadband)|no internet|limited connectivity", 3.0),
        (r"ethernet|network cable|patch cable|link lights?", 2.0), (r"network|internet", 1.0), (r"isp|wan", 1.5),
        (r"router", 1.5), (r"meraki|ubiquiti|unifi|aruba|ruckus|cisco|draytek", 1.5), (r"roam\w*|signal", 2.0),
        (r"802\.1x|radius", 1.0), (r"speed ?tests?", 2.0), (r"duplex|spanning tree|broadcast storm|loop", 2.0),
        (r"ping(s|ed|ing)?", 1.0), (r"drop(s|ping|ped)? (out|off|connection)", 1.5),
    ),
    causes=(
        Cause("wan", "An ISP or WAN fault, or a saturated internet link (packet loss beyond the firewall, bandwidth "
              "hogs)", "an ISP/WAN fault or a saturated link", 0.22,
              ((r"isp|internet|wan|packet loss|latency|speed ?tests?|bandwidth|slow|" + ALL_USERS, 1.5),)),
        Cause("rf", "Wi-Fi coverage or interference (weak signal, overlapping channels, 2.4 GHz congestion, sticky "
              "roaming between APs)", "weak Wi-Fi coverage or interference", 0.2,
              ((r"wi-?fi|wireless|signal|roam\w*|channels?|2\.4|5 ?ghz|meeting rooms?|far|upstairs|downstairs", 1.5),)),
        Cause("dhcp", "DHCP scope exhausted or the DHCP server or relay not answering (clients get 169.254.x.x or no "
              "lease)", "an exhausted or silent DHCP scope", 0.2,
              ((r"dhcp|169\.254(\.\d+){0,2}|apipa|no ip|ip conflict|leases?|scope", 2.0),)),
        Cause("client_nic", "The client's NIC or Wi-Fi driver, power-saving settings, or a bad Wi-Fi profile or 802.1X "
              "credential on the one device", "the one device's network adapter, driver or profile", 0.2,
              ((ONE_USER + r"|drivers?|power sav\w*|after (the )?update|802\.1x|new laptop", 1.6),)),
        Cause("switch_cabling", "A faulty cable or switch port, a duplex mismatch, or a loop or broadcast storm on the "
              "switch", "a faulty cable, switch port or loop", 0.18,
              ((r"cables?|ports?|switch(es)?|duplex|loop|storm|crc|link", 1.6),
               (r"wired (\w+ )?(is|are) fine|wired (\w+ )?(is|are) ok|wired (\w+ )?works?", 0.5))),
    ),
    steps=(
        StepRule("scope_ping", "Establish scope: from an affected device run `ping -t` to the default gateway and to "
                 "8.8.8.8 side by side, and repeat from a wired PC, to see whether loss starts on the LAN or beyond "
                 "the firewall", ("ping",)),
        StepRule("ip_config", "Run `ipconfig /all` on an affected client: a 169.254.x.x address or no gateway points "
                 "at DHCP, so check the scope's free leases and the DHCP server or relay",
                 ("ipconfig all|ipconfig release|ipconfig renew|dhcp|lease|169 254|apipa",), ("dhcp",),
                 (("dhcp", 0.5),)),
        StepRule("wireless_dashboard", "In the wireless controller or cloud dashboard (UniFi, Meraki, Aruba) check the "
                 "client's RSSI/SNR, AP, channel utilisation and roaming events; move crowded APs to non-overlapping "
                 "5 GHz channels", ("controller|dashboard|unifi|meraki|aruba|rssi|snr|channel|signal",), ("rf",),
                 (("rf", 0.5),)),
        StepRule("wan_check", "Check the firewall's WAN interface and the ISP: packet loss and latency graphs, top "
                 "talkers and the ISP's status page; raise a fault with `pathping`/traceroute evidence",
                 ("isp|wan|pathping|tracert|traceroute|top talker|bandwidth",), ("wan",), (("wan", 0.5),)),
        StepRule("switch_port", "Check the switch port of the device or uplink for CRC errors, speed/duplex and link "
                 "flaps (`show interface`), and swap the patch cable and port",
                 ("switch|port|cable|duplex|crc|interface",), ("switch_cabling",), (("switch_cabling", 0.45),)),
        StepRule("client_adapter", "Update the Wi-Fi/NIC driver from the laptop vendor, disable the adapter's power "
                 "saving (Device Manager > Power Management) and forget and re-add the Wi-Fi profile",
                 ("driver|power management|power saving|forget|profile|nic|adapter",
                  "update|disable|reinstall|forget|remove|reset|re add|roll|turn off"),
                 ("client_nic",), (("client_nic", 0.45),)),
        StepRule("loop", "Look for a loop or broadcast storm: spanning-tree topology changes and broadcast counters, "
                 "and unplug recently added unmanaged switches", ("loop|spanning|storm|stp|broadcast",),
                 ("switch_cabling",), (("switch_cabling", 0.7),)),
        StepRule("reboot_gear", "Power-cycle the affected AP or switch out of hours and check for pending firmware or "
                 "a recent config change in the controller's change log",
                 ("restart|power cycle", "ap|access point|switch|router|firewall|modem"), ("rf", "switch_cabling"),
                 (("rf", 0.8), ("switch_cabling", 0.8))),
    ),
    missing=(
        MissingFact("medium", "Wired, Wi-Fi or both, and which SSID or VLAN",
                    r"wired|ethernet|wi-?fi|wireless|ssid|vlan|both"),
        MissingFact("scope", "How many users or devices and which areas of the site are affected",
                    SCOPE_KNOWN + r"|floor|rooms?|area|upstairs|downstairs|building"),
        MissingFact("numbers", "Measurements: ping loss and latency to the gateway and the internet, speed test "
                    "results",
                    r"\d+ ?%|\d+ ?ms|packet loss|speed ?tests?|mbps|latency"),
        MissingFact("ip_config", "The IP configuration of an affected client (`ipconfig /all`)",
                    r"ipconfig|169\.254(\.\d+){0,2}|\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|gateway"),
        MissingFact("equipment", "Network equipment make and model (firewall, switches, APs) and recent changes to it",
                    r"meraki|unifi|ubiquiti|aruba|ruckus|cisco|fortigate|sonicwall|watchguard|draytek|netgear|tp-link"
                    r"|firmware|controller"),
        MissingFact("timing", "When it happens: constantly, at certain times or under load",
                    r"always|constant\w*|intermittent\w*|every|mornings?|afternoons?|peak|randomly|\d+ ?(am|pm)"
                    r"|when (many|everyone|calls)"),
    ),
    risk="medium",
    risk_rules=(
        RiskRule("high", (ALL_USERS + r"|site down|pos|tills|phones? (system )?down|voip",)),
        RiskRule("low", (ONE_USER,)),
    ),
)

ENDPOINT_AGENT = Family(
    name="endpoint_agent",
    label="endpoint agent (RMM/EDR) check-in",
    signals=(
        (r"agents?", 2.0), (r"rmm|edr|xdr|mdr", 3.0), (r"not (checking|checked) in|stopped checking in", 3.0),
        (r"check-?ins?|heartbeats?|last seen|last contact", 2.0), (r"offline in (the )?(rmm|console|dashboard)", 3.0),
        (r"ninja(one|rmm)?|datto rmm|connectwise automate|automate|labtech|n-?central|n-?able|kaseya|atera|syncro",
         3.0),
        (r"sentinel ?one|s1|crowdstrike|falcon|huntress|sophos|bitdefender|webroot|malwarebytes|cylance|threatlocker",
         2.5),
        (r"defender for endpoint|mde", 2.5), (r"antivirus|anti-virus|av", 2.0), (r"tamper protection", 2.0),
        (r"sensors?", 1.5), (r"endpoints?", 1.0), (r"screenconnect|control", 0.5),
    ),
    causes=(
        Cause("service_stopped", "The agent service stopped, crashed or was disabled or removed on the device",
              "the agent service stopped or removed", 0.25,
              ((r"service (stopped|not running|disabled)|crash\w*|uninstalled|removed|missing", 1.6),)),
        Cause("network_block", "The agent cannot reach its cloud or server: firewall, proxy, DNS filtering or SSL "
              "inspection blocking the vendor's endpoints", "the network blocking the agent's endpoints", 0.22,
              ((r"proxy|firewall|ssl inspection|blocked|dns filter\w*|umbrella|ports?|can'?t reach|unable to connect"
                r"|tls|handshake", 1.6),)),
        Cause("outdated_corrupt", "An outdated or corrupt agent install (failed self-update, duplicate ID after "
              "cloning)", "an outdated or corrupt agent install", 0.2,
              ((r"updat\w*|version|old|clon\w*|imag\w*|corrupt\w*|duplicate", 1.4),)),
        Cause("device_offline", "The device really is offline, asleep or was re-imaged or replaced, leaving a stale "
              "record in the console", "the device being offline or replaced (a stale record)", 0.18,
              ((r"asleep|sleep\w*|powered off|re-?imaged|renamed|replaced|new laptop|stale|last seen \d+ (days|weeks)",
                1.6),
               (r"users? (is |are )?(working|online|using|logged in)|working on (it|them)|still reporting", 0.4))),
        Cause("security_conflict", "Another security product, tamper protection or a policy blocking or quarantining "
              "the agent", "another security tool blocking the agent", 0.15,
              ((r"quarantin\w*|blocked by|tamper|conflict\w*|applocker|threatlocker", 1.7),)),
    ),
    steps=(
        StepRule("agent_service", "On the device (through another remote tool or the user) check the agent's services "
                 "in services.msc or `Get-Service *<vendor>*`, set them to Automatic and restart them, then read the "
                 "agent log for connection errors",
                 ("service", "agent|rmm|edr|ninja|ninjaone|datto|sentinel|automat|start|restart"),
                 ("service_stopped",), (("service_stopped", 0.4),)),
        StepRule("console_record", "In the RMM/EDR console note the device's last check-in, agent version and last "
                 "known IP, and look for a duplicate or renamed device record",
                 ("last seen|last check|last contact|duplicate|console",), ("device_offline", "outdated_corrupt")),
        StepRule("reachability", "From the device test the vendor's endpoints (`Test-NetConnection <vendor host> -Port "
                 "443`) and check the proxy, firewall/DNS-filter and SSL-inspection exclusions the vendor requires",
                 ("netconnection|proxy|port 443|443|whitelist|allowlist|ssl inspect|firewall",), ("network_block",),
                 (("network_block", 0.45),)),
        StepRule("reinstall", "Reinstall the agent with the site-specific installer from the console, using the "
                 "vendor's cleanup tool first if the old install is corrupt or cloned",
                 ("reinstall|install|uninstall|remove|redeploy|cleanup",
                  "agent|rmm|edr|sentinel|ninja|datto|crowdstrike|huntress|installer"),
                 ("outdated_corrupt", "service_stopped"), (("outdated_corrupt", 0.4), ("service_stopped", 0.6))),
        StepRule("security_tools", "Check the other security tools on the device (Defender or EDR quarantine, tamper "
                 "protection, AppLocker/ThreatLocker logs) for blocks against the agent and add the vendor's "
                 "exclusions",
                 ("quarantin*|tamper|applocker|threatlocker|exclusion|defender",), ("security_conflict",),
                 (("security_conflict", 0.45),)),
        StepRule("device_online", "Confirm the device is really on and online (ask the user, check the switch or Wi-Fi "
                 "client list and DHCP leases, wake it through another agent) and retire the record if it was "
                 "replaced", ("wake|wol|power on|switch on|online|asleep|dhcp lease|ping",), ("device_offline",),
                 (("device_offline", 0.5),)),
        StepRule("clone_id", "If the device was imaged or cloned, regenerate the agent's unique ID as the vendor "
                 "documents so it stops colliding with the golden image", ("clone|image|unique id|regenerate",),
                 ("outdated_corrupt",)),
        StepRule("bulk_change", "If several devices dropped at once, check the vendor's status page and any recent "
                 "firewall, proxy or GPO change at that client",
                 ("status page|vendor status|gpo change|firewall change",),
                 ("network_block",)),
    ),
    missing=(
        MissingFact("product", "Which agent and vendor (RMM, EDR, AV) and the agent version",
                    r"ninja\w*|datto rmm|n-?able|n-?central|connectwise|automate|kaseya|atera|syncro|sentinel ?one"
                    r"|crowdstrike|huntress|sophos|defender|bitdefender|webroot|threatlocker|version"),
        MissingFact("last_seen", "The last check-in time shown in the console",
                    r"last (seen|check-?in|contact|heartbeat)|since|days? ago|hours? ago|\d+ days"),
        MissingFact("online", "Whether the device is otherwise online (user working on it, pingable, other agents "
                    "reporting)", r"users? (is |are )?(working|online|using)|working on (it|them)|pingable|ping\w*"
                    r"|online|powered (on|off)|asleep|other agents?|screenconnect|teamviewer|splashtop"),
        MissingFact("scope", "How many devices at the client are affected",
                    SCOPE_KNOWN + r"|\d+ (devices|machines|endpoints|pcs)|several devices|all devices|one device"
                    r"|single device"),
        MissingFact("change", "Recent changes on the device or network (new firewall or proxy, security product, "
                    "re-image)", CHANGE_KNOWN + r"|new (firewall|proxy)|re-?imaged?|installed|replaced"),
    ),
    risk="medium",
    risk_rules=(
        RiskRule("high", (r"edr|xdr|mdr|sentinel ?one|crowdstrike|huntress|antivirus|av|defender|security",
                          r"several|many|multiple|all (devices|endpoints|machines)|\d{2,} (devices|machines|endpoints)"
                          r"|servers?|domain controller")),
        RiskRule("high", (r"\d{2,} (devices|machines|endpoints|pcs)|all (devices|endpoints|machines)"
                          r"|whole (client|site|estate)",)),
    ),
)

FAMILIES = (
    DNS, VPN, M365_SIGNIN, ACCOUNT_LOCKOUT, PRINTER, DISK_SPACE, CERTIFICATE, BACKUP, NETWORK_WIFI, ENDPOINT_AGENT,
)
# fmt: on
