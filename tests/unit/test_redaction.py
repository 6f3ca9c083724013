"""Redaction against a corpus: real-looking secrets must not reach an AI provider; ordinary ticket text must."""

from __future__ import annotations

from typing import Any

import pytest

from services.assessor.redaction import REDACTED, is_secret_key, redact, redact_text

# (text as an engineer would paste it, the secret in it)
SECRETS_IN_TEXT: list[tuple[str, str]] = [
    # The misses the review found.
    ("The password for the admin account is Hunter2!", "Hunter2!"),
    ("mysql -pHunter2! -u root billing", "Hunter2!"),
    ("mysql -u root -pHunter2! -h db01 billing", "Hunter2!"),
    ("net user bob Hunter2! /add", "Hunter2!"),
    ("PSK: Tr0ub4dor&3-office", "Tr0ub4dor&3-office"),
    ("pw is Hunter2", "Hunter2"),
    ("admin_pw=Sup3rS3cret", "Sup3rS3cret"),
    # key=value and key: value.
    ("password=Winter2024!", "Winter2024!"),
    ("Password: P@ssw0rd123", "P@ssw0rd123"),
    ("passwd: letmein-99", "letmein-99"),
    ("pwd=Qwerty!234", "Qwerty!234"),
    ("DB_PASSWORD=pg-prod-7731", "pg-prod-7731"),
    ("export MYSQL_ROOT_PASSWORD='r00t-pass'", "r00t-pass"),
    ("PGPASSWORD=hunter22 psql -h db01 -U app", "hunter22"),
    ('"password": "JsonSecret#1"', "JsonSecret#1"),
    ("client_secret: 8Q~xk2.Fh3abcDEFghi_jkl", "8Q~xk2.Fh3abcDEFghi_jkl"),
    ("api_key=abcd1234efgh5678ijkl", "abcd1234efgh5678ijkl"),
    ("API key: 9f8e7d6c5b4a39281706", "9f8e7d6c5b4a39281706"),
    ("token: 4f9a1c2e8b7d6a5f4e3d", "4f9a1c2e8b7d6a5f4e3d"),
    ("Server=sql01;Database=crm;User Id=sa;Password=Sql$erver1;", "Sql$erver1"),
    ("Data Source=db;Initial Catalog=erp;uid=app;pwd=Erp#2024", "Erp#2024"),
    (
        "DefaultEndpointsProtocol=https;AccountName=backups;AccountKey=q8Zk3mN0pQ1rS2tU3vW4xY5z6A7B8C9D0E1F2G3H4I==;",
        "q8Zk3mN0pQ1rS2tU3vW4xY5z6A7B8C9D0E1F2G3H4I==",
    ),
    ("Endpoint=sb://bus.servicebus.windows.net/;SharedAccessKey=k3yV4lu3Abc123=", "k3yV4lu3Abc123="),
    ("wifi key: GuestNet-2024", "GuestNet-2024"),
    ("WPA2 key = Summer2024Office", "Summer2024Office"),
    ("pre-shared key: vpn-psk-aa81", "vpn-psk-aa81"),
    ("psk=ike-shared-991", "ike-shared-991"),
    ("pin: 4821", "4821"),
    ("<Password>Unattend#Pass1</Password>", "Unattend#Pass1"),
    (
        "<AdministratorPassword><Value>x</Value></AdministratorPassword> <PlainTextPassword>Pl41n!</PlainTextPassword>",
        "Pl41n!",
    ),
    # Prose.
    ("The new password is Spring2025! for jsmith", "Spring2025!"),
    ("bob's password was Autumn#77", "Autumn#77"),
    ("the wifi password is CoffeeShop88", "CoffeeShop88"),
    ("The PSK is now Br1dge-W1fi", "Br1dge-W1fi"),
    ("I set the admin password to Temp1234! until Monday", "Temp1234!"),
    ("changed the password for svc_backup to B4ckup!2025", "B4ckup!2025"),
    ("reset his pw to Welcome1", "Welcome1"),
    ("password was changed to Chang3d!", "Chang3d!"),
    ("tried password Hunter2! on the console", "Hunter2!"),
    ("The passphrase is correct-horse-battery-staple", "correct-horse-battery-staple"),
    ("secret is 0penSesame", "0penSesame"),
    # Command lines.
    ("mysqldump --password=Dump!t db > db.sql", "Dump!t"),
    ("mysqladmin -uroot -pAdm1n status", "Adm1n"),
    ("sqlcmd -S sql01 -U sa -P Sq1Cmd! -Q 'select 1'", "Sq1Cmd!"),
    ("sshpass -p Ssh!Pass ssh admin@10.0.0.5", "Ssh!Pass"),
    ("psexec \\\\ws12 -u CONTOSO\\admin -p PsExec#9 cmd", "PsExec#9"),
    ("ldapsearch -x -D cn=admin -w Ld4p! -b dc=corp", "Ld4p!"),
    ("net user administrator N3wAdm!n", "N3wAdm!n"),
    ('net user "svc sql" SvcSql#1 /add /domain', "SvcSql#1"),
    ("net use Z: \\\\fs01\\share Sh4re! /user:CONTOSO\\bob", "Sh4re!"),
    ("xfreerdp /v:rds01 /u:admin /p:Rdp!Pass", "Rdp!Pass"),
    ("cmdkey /generic:TERMSRV/rds01 /user:admin /pass:CmdK3y!", "CmdK3y!"),
    ("openssl pkcs12 -in cert.pfx -passin pass:Pfx!2024 -nodes", "Pfx!2024"),
    ("smbclient //fs01/share -U bob%Smb!Pass", "Smb!Pass"),
    ("curl -u admin:Curl!Pass https://printer01/api", "Curl!Pass"),
    ("wget --password=Wg3t! https://files/x.zip", "Wg3t!"),
    (
        'Set-ADAccountPassword -Identity bob -NewPassword (ConvertTo-SecureString "Ps!Secure1" -AsPlainText -Force)',
        "Ps!Secure1",
    ),
    ("New-LocalUser -Name svc -Password Plain!Pw1", "Plain!Pw1"),
    # Tokens and keys with known shapes.
    ("Authorization: Basic YWRtaW46SHVudGVyMiE=", "YWRtaW46SHVudGVyMiE="),
    ("Authorization: Bearer abcdefghijklmnop.qrstuv", "abcdefghijklmnop.qrstuv"),
    ("AWS key AKIAIOSFODNN7EXAMPLE in the script", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sflKxwRJSMeKKF2QT4fwpMeJf36", "sflKxwRJSMeKKF2QT4fwpMeJf36"),
    ("key sk-proj-abcdefghijklmnopqrstuvwx", "sk-proj-abcdefghijklmnopqrstuvwx"),
    ("ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 in the runner", "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
    ("glpat-AbCdEfGhIjKlMnOpQrStUv was leaked", "glpat-AbCdEfGhIjKlMnOpQrStUv"),
    ("xoxb-123456789012-abcdefghijkl in the bot", "xoxb-123456789012-abcdefghijkl"),
    ("https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXX", "XXXXXXXXXXXXXXXX"),
    ("AIzaSyA1234567890abcdefghijklmnopqrstuv is the maps key", "AIzaSyA1234567890abcdefghijklmnopqrstuv"),
    ("SG.abcdefghijklmnopqrstuv.ABCDEFGHIJKLMNOPQRSTUVWXYZ0123 for mail", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123"),
    ("rdp://admin:Url!Pass@10.0.0.5", "Url!Pass"),
    ("postgresql://app:pg-url-secret@db01:5432/crm", "pg-url-secret"),
    (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7x\n-----END RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEA7x",
    ),
]

INNOCENT: list[str] = [
    "Ticket #4711: printer offline at reception",
    "INC0012345 escalated to the network team",
    "See KB5034441 and KB5031356 before patching",
    "SRV-DC01.contoso.local is not answering LDAP",
    "fs01.corp.example.com share \\\\fs01\\finance is read-only",
    "Error 0x80070005 access denied when installing",
    "Event ID 4625: An account failed to log on",
    "AADSTS50126: Error validating credentials due to invalid username or password.",
    "STATUS_LOGON_FAILURE on the VPN concentrator",
    "The user's password has expired (0x532)",
    "Password reset link sent to the user, ticket #4712",
    "User reports password expired; reset via ADUC",
    "Login failed for user 'sa'. Reason: Password did not match that for the login provided.",
    "Error 18456, severity 14, state 8",
    "ORA-01017: invalid username/password; logon denied",
    "HTTP 401 from https://api.example.com/v2/tickets",
    "Ping 10.0.0.5 timed out, 192.168.1.1 answers",
    "MTU 1500 vs 1400 on the IPsec tunnel",
    "Veeam job 'Nightly-FS01' failed with VSS error 0x800423f4",
    "DNS lookup for mail.contoso.com returns 40.97.1.2",
    "Outlook build 16.0.17328.20162 crashes on start",
    "BitLocker recovery screen on LT-0423 after BIOS update",
    "Port 3389 open on rds01, 443 closed",
    "Spooler service restarted twice, still offline",
    "CVE-2024-21412 patched on all endpoints",
    "Certificate for vpn.contoso.com expires 2026-12-01",
    "Disk C: 98% full on SRV-APP02",
    "Token refresh works after re-consent in Entra",
    "The password policy requires 14 characters",
    "Password never expires is set on svc_backup",
    "User passed MFA but still gets prompt loop",
    "Bypass proxy for *.contoso.local",
    "Assigned to Riley; Sam is on call",
    "Sent the secret santa list to HR",
    "Firmware 2.4.1 on the FortiGate 60F",
]


@pytest.mark.parametrize(("text", "secret"), SECRETS_IN_TEXT)
def test_secrets_in_text_are_redacted(text: str, secret: str) -> None:
    redacted = redact_text(text)
    assert secret not in redacted
    assert REDACTED in redacted


def test_the_corpus_is_big_enough() -> None:
    assert len(SECRETS_IN_TEXT) >= 60
    assert len(INNOCENT) >= 30


@pytest.mark.parametrize("text", INNOCENT)
def test_innocent_ticket_text_survives(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("password", ["Hunter2!"]),
        ("password", {"current": "Hunter2!", "previous": "Hunter1!"}),
        ("pin", 4821),
        ("pw", "Hunter2!"),
        ("admin_pw", "Hunter2!"),
        ("adminPw", "Hunter2!"),
        ("rootpass", "Hunter2!"),
        ("dbPassword", 12345678),
        ("wifi-psk", "Tr0ub4dor&3"),
        ("WiFi PSK", "Tr0ub4dor&3"),
        ("apiKey", "abc123"),
        ("client-secret", "abc123"),
        ("Connection String", "Server=x;Password=y"),
        ("ssh_private_key", ["-----BEGIN", "x"]),
        ("passwords", [["Hunter2!"], {"old": "Hunter1!"}]),
        ("csrftoken", 3.14159),
        ("bitlocker_recovery_key", "123456-654321-111111-222222-333333-444444-555555-666666"),
    ],
)
def test_every_value_under_a_secret_key_goes_whatever_its_type(key: str, value: Any) -> None:
    snapshot = {"context": {"device": "LT-0423", key: value}, "messages": [{"content": "ok", "meta": {key: value}}]}
    redacted = redact(snapshot)
    assert redacted["context"] == {"device": "LT-0423", key: REDACTED}
    assert redacted["messages"] == [{"content": "ok", "meta": {key: REDACTED}}]


@pytest.mark.parametrize(
    "key",
    ["ticket_ref", "title", "hostname", "kb_article", "error_code", "message_count", "password_expired",
     "pwd_last_set", "password_policy", "bypass_proxy", "passenger_count", "steps_tried", "author", "spinner"],
)  # fmt: skip
def test_ordinary_keys_are_kept(key: str) -> None:
    assert not is_secret_key(key)
    assert redact({key: "KB5034441 on SRV-DC01"}) == {key: "KB5034441 on SRV-DC01"}


def test_flags_and_nulls_under_secret_keys_are_kept() -> None:
    assert redact({"password_set": True, "mfa_token": None}) == {"password_set": True, "mfa_token": None}
