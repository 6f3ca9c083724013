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

# Shapes from device configurations, PowerShell, logs and tickets in other languages: each names its secret(s).
MSP_SECRETS: list[tuple[str, str | tuple[str, ...]]] = [
    # Cisco IOS / ASA.
    ("username admin privilege 15 password 0 Secr3t!", "Secr3t!"),
    (
        "username netops privilege 15 secret 9 $9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkOSSvyQYwucySCt7qFm4v7pqCxkKM",
        "$9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkOSSvyQYwucySCt7qFm4v7pqCxkKM",
    ),
    ("enable secret 5 $1$mERr$hx5rVt7rPNoS4wqbXKX7m0", "$1$mERr$hx5rVt7rPNoS4wqbXKX7m0"),
    ("enable password cisco", "cisco"),
    ("enable password 7 0822455D0A16", "0822455D0A16"),
    ("line vty 0 4\n password 7 094F471A1A0A\n login", "094F471A1A0A"),
    ("crypto isakmp key Vpn-Sh4red-K3y address 203.0.113.10", "Vpn-Sh4red-K3y"),
    ("crypto keyring SPOKES\n pre-shared-key address 198.51.100.7 key Spoke!Key77", "Spoke!Key77"),
    ("tunnel-group 203.0.113.10 ipsec-attributes\n ikev1 pre-shared-key T0nnelK3y", "T0nnelK3y"),
    ("crypto ikev2 keyring KR\n peer HQ\n  pre-shared-key local L0calPsk!", "L0calPsk!"),
    ("crypto isakmp key 6 Enc0dedIsakmp address 0.0.0.0 0.0.0.0", "Enc0dedIsakmp"),
    ("pre-shared-key 0 Pl4inPsk!", "Pl4inPsk!"),
    ("radius server NPS\n address ipv4 10.0.0.9 auth-port 1812\n key 7 0458070A1A", "0458070A1A"),
    ("snmp-server community public RO", "public"),
    ("snmp-server community N0cM0n1t0r RW 10", "N0cM0n1t0r"),
    ("snmp-server host 10.0.0.50 version 2c TrapC0mm", "TrapC0mm"),
    ("snmp-server user nms NMSGROUP v3 auth sha AuthP4ss! priv aes 128 PrivP4ss!", ("AuthP4ss!", "PrivP4ss!")),
    ("snmpwalk -v2c -c S3cretComm 10.0.0.1 1.3.6.1.2.1.1", "S3cretComm"),
    ("tacacs-server host 10.1.1.5 key T4cacsK3y", "T4cacsK3y"),
    ("radius-server key Rad1usSecret", "Rad1usSecret"),
    ("key chain EIGRP\n key 1\n  key-string 7 104D000A0618", "104D000A0618"),
    ("ip ospf message-digest-key 1 md5 0spfMd5Key", "0spfMd5Key"),
    ("dot11 ssid CORP\n wpa-psk ascii 0 C0rpW1reless", "C0rpW1reless"),
    # FortiGate, Juniper, EdgeOS, HPE/Aruba, MikroTik.
    (
        'config system admin\n    edit "admin"\n        set password ENC SH2nlSm9QL9tapcHPXIqAXvX7vBJuuqu3',
        "SH2nlSm9QL9tapcHPXIqAXvX7vBJuuqu3",
    ),
    ("set psksecret ENC Fk9xMZ2c7YpZzQ==", "Fk9xMZ2c7YpZzQ=="),
    ('set passwd "F0rtiL0cal!"', "F0rtiL0cal!"),
    (
        'set system root-authentication encrypted-password "$6$Xk3a$R0T8wYQ5v9kz1mDf2pqL0fE4"',
        "$6$Xk3a$R0T8wYQ5v9kz1mDf2pqL0fE4",
    ),
    ('set security ike policy P pre-shared-key ascii-text "$9$Hk5FCtO1IcrvMLX-ws2aJ"', "$9$Hk5FCtO1IcrvMLX-ws2aJ"),
    ("set vpn ipsec site-to-site peer 203.0.113.9 authentication pre-shared-secret Ed6eSecret", "Ed6eSecret"),
    ("password manager user-name admin plaintext Ar0baSw!", "Ar0baSw!"),
    ("/interface wireless security-profiles set default wpa2-pre-shared-key=M1kr0tikWifi", "M1kr0tikWifi"),
    ("/user add name=backup group=full password=B4ckupMikro", "B4ckupMikro"),
    ("wpa_passphrase=HostapdPass99", "HostapdPass99"),
    ('network={\n    ssid="Office"\n    psk="Supplicant#7"\n}', "Supplicant#7"),
    ("<keyMaterial>WlanProfileKey1</keyMaterial>", "WlanProfileKey1"),
    ("    Key Content            : Gu3stW1f1-2025", "Gu3stW1f1-2025"),
    # Windows and PowerShell.
    (
        'reg add "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon" /v DefaultPassword /d K1osk!Pw',
        "K1osk!Pw",
    ),
    ("    DefaultPassword    REG_SZ    K1oskAut0", "K1oskAut0"),
    ("Set-ItemProperty -Path $winlogon -Name DefaultPassword -Value 'Aut0Logon!'", "Aut0Logon!"),
    ('$AdminPassword = "L0calAdm!n"', "L0calAdm!n"),
    ("$pw = 'Sched!Task1'", "Sched!Task1"),
    ("schtasks /create /tn Backup /tr backup.cmd /ru CONTOSO\\svc_backup /rp T4skPass!", "T4skPass!"),
    ("wmic /node:ws12 /user:admin /password:Wm1cPass process list", "Wm1cPass"),
    ("plink.exe -ssh admin@10.0.0.1 -pw Pl1nkPass", "Pl1nkPass"),
    ("docker login -u deploy -p D0ckerHub! registry.example.com", "D0ckerHub!"),
    ("ipmitool -I lanplus -H 10.0.0.20 -U ADMIN -P Ipm1Pass chassis status", "Ipm1Pass"),
    ("sqlplus system/0racleSys@ORCL", "0racleSys"),
    ("machine ftp.example.com login backup password Netrc4ever", "Netrc4ever"),
    # Key material and hashes.
    (
        "BitLocker recovery key: 123456-234567-345678-456789-567890-678901-789012-890123",
        "123456-234567-345678-456789-567890-678901-789012-890123",
    ),
    (
        "Recovery password 445291-063788-213587-598818-611424-304106-580756-178035 for LT-0423",
        "445291-063788-213587-598818-611424-304106-580756-178035",
    ),
    (
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGQx2cMBCAC7Zk\n=Ab12\n-----END PGP PRIVATE KEY BLOCK-----",
        "lQOYBGQx2cMBCAC7Zk",
    ),
    (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU\n-----END OPENSSH PRIVATE KEY-----",
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU",
    ),
    (
        "PuTTY-User-Key-File-3: ssh-ed25519\nPrivate-Lines: 1\nAAAAIFh3c2VjcmV0a2V5bWF0ZXJpYWw=\nPrivate-MAC: 4a5b",
        "AAAAIFh3c2VjcmV0a2V5bWF0ZXJpYWw=",
    ),
    (
        "Administrator:500:aad3b435b51404eeaad3b435b51404ee:8846f7eaee8fb117ad06bdd830b7586c:::",
        "8846f7eaee8fb117ad06bdd830b7586c",
    ),
    (
        "bob::CONTOSO:1122334455667788:0101000000000000C0653150DE09D201:0101000000000000",
        "0101000000000000C0653150DE09D201",
    ),
    ("NTLM hash: 8846f7eaee8fb117ad06bdd830b7586c", "8846f7eaee8fb117ad06bdd830b7586c"),
    ("root:$6$rounds=5000$saltsalt$Qw3rTyUi0pAsDfGhJkLzXcVbNm:19000:0:99999:7:::", "Qw3rTyUi0pAsDfGhJkLzXcVbNm"),
    # HTTP: URL-encoded bearer tokens, cookies and session ids.
    (
        "GET /api?auth=Bearer%20eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.dBjftJeZ4CVPmB92K27uhbUJU1p1r",
        "dBjftJeZ4CVPmB92K27uhbUJU1p1r",
    ),
    ("Authorization%3A%20Bearer%20abc123def456ghi789", "abc123def456ghi789"),
    (
        "Cookie: ASP.NET_SessionId=v3ry5ecretsess10n; .ASPXAUTH=8A1F0C2D3E4B5A69",
        ("v3ry5ecretsess10n", "8A1F0C2D3E4B5A69"),
    ),
    ("Set-Cookie: session=9f8e7d6c5b4a; Path=/; HttpOnly; Secure", "9f8e7d6c5b4a"),
    ("the log shows ASP.NET_SessionId=k2j3h4g5f6d7s8a9 on every request", "k2j3h4g5f6d7s8a9"),
    ("JSESSIONID=1A2B3C4D5E6F7A8B9C0D in the Tomcat access log", "1A2B3C4D5E6F7A8B9C0D"),
    ("Ocp-Apim-Subscription-Key: 0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"),
    ("X-Cisco-Meraki-API-Key: 6bec40cf957de430a6f1f2baa056b99a4fac9ea0", "6bec40cf957de430a6f1f2baa056b99a4fac9ea0"),
    # Webhooks and chat integrations.
    (
        "https://outlook.office.com/webhook/3a1b2c3d-1111-2222-3333-444455556666@72f988bf-86f1-41af-91ab-2d7cd011db47/IncomingWebhook/9b8a7c6d5e4f/0f1e2d3c-aaaa-bbbb-cccc-ddddeeeeffff",
        "9b8a7c6d5e4f",
    ),
    (
        "https://contoso.webhook.office.com/webhookb2/3a1b2c3d-1111-2222-3333-444455556666@72f988bf/IncomingWebhook/a1b2c3d4e5f6a7b8/0f1e2d3c-aaaa",
        "a1b2c3d4e5f6a7b8",
    ),
    (
        "https://prod-27.westeurope.logic.azure.com:443/workflows/6c1a2b3c4d5e/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=Xk3vQ9zT2rB7mN4pL8wY1cF6hJ0sD5gA",
        "Xk3vQ9zT2rB7mN4pL8wY1cF6hJ0sD5gA",
    ),
    (
        "https://discord.com/api/webhooks/1183376452012345678/aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5zA7bC9dE1fG3hI5jK7lM9nO1pQ3r",
        "aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5zA7bC9dE1fG3hI5jK7lM9nO1pQ3r",
    ),
    ("https://hooks.slack.com/workflows/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", "Zq8Wx7Vc6Bn5Mm4"),
    (
        "https://func-psa.azurewebsites.net/api/ticket?code=aBcD3fGhIjKlMn0pQrStUvWxYz==&clientId=default",
        "aBcD3fGhIjKlMn0pQrStUvWxYz==",
    ),
    (
        "Azure DevOps PAT: 4xq7sf2mw5ybnzkdl3rjpogh6tceuaiv7wnq4mz2lrkdx5fyh3sa",
        "4xq7sf2mw5ybnzkdl3rjpogh6tceuaiv7wnq4mz2lrkdx5fyh3sa",
    ),
    (
        "git clone https://4xq7sf2mw5ybnzkdl3rjpogh6tceuaiv7wnq4mz2lrkdx5fyh3sa@dev.azure.com/contoso/ops/_git/scripts",
        "4xq7sf2mw5ybnzkdl3rjpogh6tceuaiv7wnq4mz2lrkdx5fyh3sa",
    ),
    ("runner token glrt-2CR8_eVxiioB1QmzPZwa in config.toml", "glrt-2CR8_eVxiioB1QmzPZwa"),
    (
        "SAS: https://backup.blob.core.windows.net/c?sv=2022-11-02&ss=b&srt=co&sp=rl&se=2026-12-31&sig=a1B2c3D4e5F6%3D",
        "a1B2c3D4e5F6",
    ),
    ("mongodb+srv://app:M0ng0Pass@cluster0.example.mongodb.net/crm", "M0ng0Pass"),
    ("Stripe key sk_live_51HqLyjWDarjtT1zdp7dcXYZabc123", "sk_live_51HqLyjWDarjtT1zdp7dcXYZabc123"),
    ("client secret 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", "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"),
    # Other languages.
    ("Kennwort: Sommer2025!", "Sommer2025!"),
    ("Das Kennwort für den Admin lautet Herbst#2024", "Herbst#2024"),
    ("Neues Passwort ist Winter2025 für jmeier", "Winter2025"),
    ("WLAN-Schlüssel: Gaeste-WLAN-77", "Gaeste-WLAN-77"),
    ("mot de passe : Soleil2025!", "Soleil2025!"),
    ("Le mot de passe du compte est Bonjour#42", "Bonjour#42"),
    ("contraseña: Verano2025!", "Verano2025!"),
    ("La contraseña es Madrid#99", "Madrid#99"),
    ("wachtwoord: Zomer2025!", "Zomer2025!"),
    ("senha: Brasil@2025", "Brasil@2025"),
    ("A senha é Lisboa#77", "Lisboa#77"),
    ("hasło: Krakow2025!", "Krakow2025!"),
    ("lösenord: Sommar2025!", "Sommar2025!"),
    ("пароль: Moskva2025!", "Moskva2025!"),
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
    # Look-alikes from configs, logs and other languages: no secret in any of them.
    "service password-encryption",
    "enable secret is recommended over enable password on every switch",
    "no enable password",
    "username admin privilege 15",
    "snmp-server enable traps snmp linkdown linkup",
    "snmp-server location Server room 2",
    "SNMP community string must be changed from the default",
    "crypto isakmp policy 10",
    "crypto key generate rsa modulus 2048",
    "aaa authentication login default local",
    "Password reset policy: 90 days, 14 characters",
    "Kennwort vergessen? Der Link steht im Self-Service-Portal.",
    "Das Kennwort ist abgelaufen",
    "Mot de passe oublié : contacter le support",
    "Le mot de passe est expiré",
    "La contraseña es incorrecta",
    "Bearer authentication failed for the Graph call",
    "Bearer token missing from the request",
    "Set-Cookie header missing SameSite on the portal",
    "Cookie consent banner blocks the login page",
    "Device GUID 3f2504e0-4f89-11d3-9a0c-0305e82c3301 enrolled in Intune",
    "BitLocker key ID {6A3BC9D2-7E41-4C0B-9F3A-2D1E0C9B8A7F} on LT-0423",
    "MAC 00:1A:2B:3C:4D:5E and 001a.2b3c.4d5e on Gi1/0/12",
    "MAC address 00-1A-2B-3C-4D-5E has a DHCP reservation",
    "IP 10.20.30.40/24, gateway 10.20.30.1, DNS 1.1.1.1",
    "Installed KB5034441 on 2026-12-05 at 09:30",
    "SHA-256 of the installer: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "MD5 d41d8cd98f00b204e9800998ecf8427e matches the vendor's",
    "Ticket #4711 merged into INC0012346; phone +49 30 123456 78",
    "Order 123456-654321 shipped",
    "Teams webhook connector retired; moved the alert to a Workflows flow",
    "key 1 of the key chain is active",
    "Duo secret key rotated yesterday per the runbook",
]


@pytest.mark.parametrize(("text", "secret"), SECRETS_IN_TEXT)
def test_secrets_in_text_are_redacted(text: str, secret: str) -> None:
    redacted = redact_text(text)
    assert secret not in redacted
    assert REDACTED in redacted


@pytest.mark.parametrize(("text", "secrets"), MSP_SECRETS)
def test_secrets_in_configs_logs_and_other_languages_are_redacted(text: str, secrets: str | tuple[str, ...]) -> None:
    redacted = redact_text(text)
    for secret in (secrets,) if isinstance(secrets, str) else secrets:
        assert secret not in redacted, redacted
    assert REDACTED in redacted
    # Also where the snapshot carries it: a message, a context value under an innocent key.
    snapshot = redact({"messages": [{"content": f"Found this:\n{text}\nthen stopped."}], "context": {"notes": text}})
    assert REDACTED in snapshot["context"]["notes"]
    assert all(secret not in str(snapshot) for secret in ((secrets,) if isinstance(secrets, str) else secrets))


def test_the_corpus_is_big_enough() -> None:
    assert len(SECRETS_IN_TEXT) + len(MSP_SECRETS) >= 150
    assert len({text for text, _ in SECRETS_IN_TEXT + MSP_SECRETS}) == len(SECRETS_IN_TEXT) + len(MSP_SECRETS)
    assert len(INNOCENT) >= 60


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
        ("Kennwort", "Sommer2025!"),
        ("mot_de_passe", "Soleil2025!"),
        ("contraseña", "Verano2025!"),
        ("пароль", "Moskva2025!"),
        ("WLAN-Schlüssel", "Gaeste-WLAN-77"),
        ("snmp_community", "public"),
        ("ASP.NET_SessionId", "k2j3h4g5f6d7s8a9"),
        ("teams_webhook_url", "https://contoso.webhook.office.com/webhookb2/x"),
        ("Ocp-Apim-Subscription-Key", "0123456789abcdef"),
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
     "pwd_last_set", "password_policy", "bypass_proxy", "passenger_count", "steps_tried", "author", "spinner",
     "mac_address", "device_guid", "teams_channel", "sha256"],
)  # fmt: skip
def test_ordinary_keys_are_kept(key: str) -> None:
    assert not is_secret_key(key)
    assert redact({key: "KB5034441 on SRV-DC01"}) == {key: "KB5034441 on SRV-DC01"}


def test_flags_and_nulls_under_secret_keys_are_kept() -> None:
    assert redact({"password_set": True, "mfa_token": None}) == {"password_set": True, "mfa_token": None}


RUNNING_CONFIG = """\
hostname SW-CORE-01
service password-encryption
enable secret 5 $1$mERr$hx5rVt7rPNoS4wqbXKX7m0
username admin privilege 15 password 0 Secr3t!
aaa new-model
interface GigabitEthernet1/0/12
 description Printer reception (MAC 001a.2b3c.4d5e)
 switchport access vlan 20
interface Vlan20
 ip address 10.20.30.1 255.255.255.0
crypto isakmp policy 10
crypto isakmp key Vpn-Sh4red-K3y address 203.0.113.10
snmp-server community public RO
snmp-server location Server room 2
line vty 0 4
 password 7 094F471A1A0A
 transport input ssh
end"""


def test_a_pasted_running_config_keeps_every_line_but_its_secrets() -> None:
    redacted = redact_text(RUNNING_CONFIG).splitlines()
    original = RUNNING_CONFIG.splitlines()
    assert len(redacted) == len(original)
    secrets = ("$1$mERr$hx5rVt7rPNoS4wqbXKX7m0", "Secr3t!", "Vpn-Sh4red-K3y", "public", "094F471A1A0A")
    for before, after in zip(original, redacted, strict=True):
        if any(secret in before.split() for secret in secrets):
            assert REDACTED in after
            assert not any(secret in after for secret in secrets)
        else:
            assert after == before  # hostnames, interfaces, addresses and policies reach the AI as they were
