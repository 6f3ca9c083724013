"""The shapes secrets take in MSP ticket text, as (pattern, replacement) pairs that `redact_text` applies in order.

Grouped by where they turn up: key material and vendor tokens, webhook URLs, HTTP headers and cookies,
device configurations (Cisco, FortiGate, Juniper, wireless), Windows and Unix command lines, and prose
in the languages MSP engineers write in. A value is replaced, the words around it stay, so the AI still
reads "the admin password was set" without the password.
"""

from __future__ import annotations

import re

REDACTED = "[REDACTED]"
_KEEP = rf"\1{REDACTED}"  # keep what names the secret, replace the secret
_KEEP_AROUND = rf"\1{REDACTED}\3"

# A value as written after `key=`, `key:` or a config keyword: quoted, or up to a separator.
_VALUE = r"(\"[^\"\n]*\"|'[^'\n]*'|`[^`\n]*`|[^\s;,\"'`<>]+)"
# A config keyword's value: quoted, or one word.
_WORD = r"(\"[^\"\n]*\"|'[^'\n]*'|\S+)"
# "Password" in the languages MSP engineers write tickets in (English is everywhere else below).
_TRANSLATED_WORDS = (
    r"kennwort|passwort|wachtwoord|mot\s+de\s+passe|mdp|contrase[ñn]a|clave|senha|palavra-passe|parola|"
    r"has[łl]o|heslo|l[öo]senord(?:et)?|passord(?:et)?|adgangskode(?:n)?|salasana|jelsz[óo]|[şs]ifre|пароль|"
    r"пароля|パスワード|密码"
)
_SENSITIVE_NAME = (
    r"(?:[\w.-]*(?:password|passwd|passphrase|passcode|pwd|secret|token|apikey|api[_ -]key|psk|"
    + _TRANSLATED_WORDS
    + r")|pw|pass|pin|puk|client[_ ]secret|access[_ ]key|account[_ ]?key|shared[_ ]?access[_ ]?key|private[_ ]key"
    r"|[\w.-]*pre-?shared[_ -]?(?:key|secret)|[\w.-]*(?:wpa2?|wi-?fi|wlan|network|wireless|secret|subscription)[_ -]key"
    r"|key[_ ]content|nt(?:lm)?[_ ]hash|(?:snmp[_ -]?)?community(?:[_ ]string)?|sig|otp|[\w.-]+_pw|[\w.-]+_pass"
    r"|[\w.-]*(?:schlüssel|netzwerkschlüssel))"
)
# Words that follow "password is" (or a config keyword) without being one; the value must not be one.
_NOT_A_VALUE = (
    r"(?!(?:reset|changed?|expired?|expiring|incorrect|wrong|correct|required|blank|empty|updated|not|no|the|a|an|"
    r"never|still|being|too|also|locked|disabled|enabled|working|accepted|rejected|valid|invalid|same|different|set|"
    r"unknown|missing|stored|saved|in|on|at|for|from|and|or|of|with|that|this|it|via|by|now|very|weak|strong|"
    r"complex|short|long|case|sensitive|is|are|was|should|must|will|can|instead|over|command|commands|recommended|"
    r"vs|versus|type|level|hash|hashes|encryption|algorithm|strings?|abgelaufen|falsch|gesperrt|nicht|kein|"
    r"expiré|incorrect|oublié|expirado|incorrecto|caducado|caducada|incorrecta|verlopen|onjuist|expirada|"
    r"incorreta|scaduta|errata|истёк|истек|неверный)(?=[\s.,;:!?)]|$))"
)

_KEYS_AND_TOKENS: tuple[tuple[str, str], ...] = (
    # PEM and PGP private keys and PuTTY's key files, whole block.
    (r"-----BEGIN [A-Z ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END [A-Z ]*PRIVATE KEY(?: BLOCK)?-----|$)", REDACTED),
    (r"(?i)(Private-Lines:\s*\d+\s*\n)(?:[A-Za-z0-9+/=]+(?:\r?\n|$))+", rf"\1{REDACTED}\n"),
    # AWS access key ids and the secret that usually follows.
    (r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", REDACTED),
    (r"(?i)(aws_secret_access_key\s*[:=]\s*)[A-Za-z0-9/+=]{30,}", _KEEP),
    # JWTs, bare or URL-encoded behind "Bearer%20".
    (r"(?<![A-Za-z_-])eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}", REDACTED),
    # Vendor prefixes: OpenAI/Anthropic/Stripe, GitHub, GitLab, Slack, Google, SendGrid, npm, PyPI, Atlassian,
    # Shopify, Mailgun, Mailchimp, Stripe webhook secrets, Google OAuth.
    (r"\b(?:sk|rk|pk)[-_](?:live[-_]|test[-_]|proj[-_]|ant[-_])?[A-Za-z0-9_-]{16,}\b", REDACTED),
    (r"\b(?:ghp|gho|ghs|ghu|ghr|github_pat)_[A-Za-z0-9_]{20,}\b", REDACTED),
    (r"\bgl(?:pat|dt|rt|ptt|cbt|ft|imt|oas|soat)-[A-Za-z0-9_-]{20,}\b", REDACTED),
    (r"\bGR1348941[A-Za-z0-9_-]{20,}\b", REDACTED),
    (r"\bxox[abprse]-[A-Za-z0-9-]{10,}\b|\bxapp-\d-[A-Za-z0-9-]{10,}\b", REDACTED),
    (r"\bAIza[0-9A-Za-z_-]{35}\b|\bGOCSPX-[A-Za-z0-9_-]{20,}\b|\bya29\.[A-Za-z0-9_-]{20,}", REDACTED),
    (r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}\b", REDACTED),
    (r"\b(?:npm_[A-Za-z0-9]{36}|pypi-[A-Za-z0-9_-]{50,})\b", REDACTED),
    (r"\bATATT[A-Za-z0-9_=-]{20,}", REDACTED),
    (r"\bshp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}\b|\bkey-[0-9a-f]{32}\b|\b[0-9a-f]{32}-us\d{1,2}\b", REDACTED),
    (r"\bwhsec_[A-Za-z0-9]{20,}\b", REDACTED),
    # Discord bot tokens and Telegram bot tokens.
    (r"\b[MNO][A-Za-z\d_-]{23,27}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,}\b", REDACTED),
    (r"\b\d{8,10}:AA[A-Za-z0-9_-]{33}\b", REDACTED),
    # Azure DevOps personal access tokens: 52 characters of base32, or the 84 of the newer format.
    (r"\b[a-z2-7]{52}\b", REDACTED),
    (r"\b[A-Za-z0-9]{76}AZDO[A-Za-z0-9]{4}\b", REDACTED),
    # BitLocker recovery passwords: eight groups of six digits.
    (r"\b\d{6}(?:[- ]\d{6}){7}\b", REDACTED),
    # Unix crypt hashes (shadow files, Juniper, Cisco type 5/8/9) and Juniper's reversible $9$.
    (r"\$(?:1|2[abxy]?|5|6|7|8|apr1|y|gy)\$(?:rounds=\d+\$)?[./A-Za-z0-9]{1,64}\$[./A-Za-z0-9]{8,}", REDACTED),
    (r"\$9\$[^\s\"';]{8,}", REDACTED),
    # NTLM: pwdump lines (user:rid:LM:NT:::) and NetNTLMv2 captures (user::domain:challenge:proof:blob).
    (r"\b([^\s:]+:\d+:)[0-9a-fA-F]{32}:[0-9a-fA-F]{32}(:::)", rf"\1{REDACTED}\2"),
    (r"\b([^\s:]+::[^\s:]+:)[0-9a-fA-F]{16}:[0-9a-fA-F]{32}:[0-9a-fA-F]+", _KEEP),
)

_URLS: tuple[tuple[str, str], ...] = (
    # Webhooks: whoever holds the URL can post. Slack, Teams (old and new), Discord, Zapier.
    (r"(?i)(hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9/_-]+", _KEEP),
    (r"(?i)(outlook\.office(?:365)?\.com/webhook(?:b2)?/)[^\s\"'<>]+", _KEEP),
    (r"(?i)(\.webhook\.office\.com/webhook(?:b2)?/)[^\s\"'<>]+", _KEEP),
    (r"(?i)(discord(?:app)?\.com/api/webhooks/\d+/)[A-Za-z0-9_-]+", _KEEP),
    (r"(?i)(hooks\.zapier\.com/hooks/catch/)[^\s\"'<>]+", _KEEP),
    # Azure Functions keys in the query (Logic Apps and Power Automate sign with `sig=`, a key below).
    (r"(?i)(\.azurewebsites\.net/[^\s?]*\?(?:[^\s&]*&)*code=)([^\s&\"'<>]+)", _KEEP),
    # Passwords inside URLs (scheme://user:password@host) and a token as the only userinfo (PATs in git URLs).
    (r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+(@)", rf"\1{REDACTED}\2"),
    (r"(?i)\b(https?://)[A-Za-z0-9_-]{20,}(@)", rf"\1{REDACTED}\2"),
)

_HEADERS_AND_COOKIES: tuple[tuple[str, str], ...] = (
    # An Authorization header, to the end of its line (Basic, Bearer, NTLM, Digest...).
    (r"(?i)\b((?:proxy-)?authorization\s*[:=]\s*)[^\r\n]+", _KEEP),
    # Cookie headers, to the end of their line; named session cookies wherever they appear.
    (r"(?im)^(\s*(?:set-)?cookie\s*:\s*)[^\r\n]+", _KEEP),
    (r"(?i)(\b(?:set-)?cookie\s*:\s*)(?=[^\s=;]+=)[^\r\n]+", _KEEP),
    (
        r"(?i)((?<![\w.])(?:ASP\.NET_SessionId|\.ASPXAUTH|\.ASPXFORMSAUTH|\.AspNetCore\.[\w.]+|JSESSIONID|PHPSESSID"
        r"|connect\.sid|laravel_session|ESTSAUTH\w*|FedAuth|rtFa|MRHSession|SMSESSION|wordpress_logged_in_\w*"
        r"|sessionid|session_id|_session_id|csrftoken)\s*=\s*)[^\s;,\"'<>]+",
        _KEEP,
    ),
    # Bearer tokens: a header written out or URL-encoded (`Bearer%20...`). A word such as "authentication"
    # after "Bearer" is no token: one needs a digit or a length no word has.
    (
        r"(?i)((?<![A-Za-z])bearer(?:\s+|%20|\+))(?=[A-Za-z0-9._~+/=%-]*\d|[A-Za-z0-9._~+/=%-]{24})"
        r"[A-Za-z0-9._~+/=%-]{8,}",
        _KEEP,
    ),
)

_DEVICE_CONFIGS: tuple[tuple[str, str], ...] = (
    # Cisco IOS/ASA: enable secret 5 $1$..., enable password 7 ..., username x privilege 15 password 0 ...
    (
        r"(?i)\b(enable\s+(?:secret|password)\s+(?:level\s+\d+\s+)?(?:[0-9]\s+)?)" + _NOT_A_VALUE + r"(\S+)",
        _KEEP,
    ),
    (
        r"(?i)\b(username\s+\S+\s+(?:privilege\s+\d+\s+)?(?:algorithm-type\s+\S+\s+)?(?:password|secret)\s+"
        r"(?:[0-9]\s+)?)" + _NOT_A_VALUE + r"(\S+)",
        _KEEP,
    ),
    # Any `password 7 ...`/`secret 5 ...`/`key 0 ...`: IOS's encryption type before the value.
    (r"(?i)\b((?:password|secret|key|key-string|pre-shared-key)\s+[05-9]\s+)(\S+)", _KEEP),
    (r"(?i)\b(crypto\s+isakmp\s+key\s+(?:[0-9]\s+)?)" + _NOT_A_VALUE + r"(\S+)", _KEEP),
    (
        r"(?i)((?<![\w-])pre-shared-key\s+(?:(?:local|remote)\s+)?(?:address\s+\S+(?:\s+\S+)?\s+key\s+)?"
        r"(?:(?:ascii-text|hexadecimal|ascii|hex)\s+)?(?:[0-9]\s+)?)" + _NOT_A_VALUE + _WORD,
        _KEEP,
    ),
    (r"(?i)\b(key-string\s+(?:[0-9]\s+)?)" + _NOT_A_VALUE + r"(\S+)", _KEEP),
    (
        r"(?i)\b((?:radius|tacacs)-server\s+(?:host\s+\S+\s+)?(?:[\w-]+\s+\S+\s+)*?key\s+(?:[0-9]\s+)?)"
        + _NOT_A_VALUE
        + _WORD,
        _KEEP,
    ),
    (r"(?i)\b((?:authentication|message-digest)-key\s+\d+\s+md5\s+(?:[0-9]\s+)?)" + _NOT_A_VALUE + r"(\S+)", _KEEP),
    # SNMP: communities (the string is the password) and v3 users' auth and priv keys.
    (r"(?i)\b(snmp-server\s+community\s+(?:[0-9]\s+)?)" + _NOT_A_VALUE + r"(\S+)", _KEEP),
    (r"(?i)\b(snmp-server\s+host\s+\S+\s+(?:(?:traps|informs)\s+)?version\s+(?:1|2c)\s+)(\S+)", _KEEP),
    (r"(?i)\b(auth\s+(?:md5|sha\d*)\s+)(\S+)", _KEEP),
    (r"(?i)\b(priv\s+(?:des|3des|aes(?:\s+\d+)?)\s+)(\S+)", _KEEP),
    (r"(?i)\b(snmp(?:walk|get|getnext|bulkwalk|bulkget|set|trap|check)\b[^\n]*?\s-c\s*)(\S+)", _KEEP),
    (r"(?i)\b(snmp(?:walk|get|getnext|bulkwalk|bulkget|set)\b[^\n]*?\s-[AX]\s*)(\S+)", _KEEP),
    # Wireless: IOS `wpa-psk ascii 0 ...`, Aruba `wpa-passphrase ...`, netsh's "Key Content : ...".
    (r"(?i)\b(wpa-psk\s+(?:ascii|hex)\s+(?:[0-9]\s+)?)(\S+)", _KEEP),
    (r"(?i)\b(wpa-passphrase\s+)" + _NOT_A_VALUE + _WORD, _KEEP),
    (r"(?i)\b(key\s+content\s*:\s*)([^\r\n]+)", _KEEP),
    # FortiOS `set passwd ...`, `set psksecret ENC ...`; EdgeOS/Juniper `plaintext-password "..."`.
    (
        r"(?i)\b(set\s+(?:passwd|password|psksecret|secret|key|auth-pwd|priv-pwd|auth-password|priv-password|"
        r"passphrase|sso-password|ldap-password|private-key)\s+(?:ENC\s+)?)" + _NOT_A_VALUE + _WORD,
        _KEEP,
    ),
    (r"(?i)\b((?:plaintext-password|encrypted-password|pre-shared-secret|shared-secret)\s+)" + _WORD, _KEEP),
    # HPE/Aruba switches: password manager user-name x plaintext ...
    (r"(?i)\b(password\s+(?:manager|operator)\s+(?:user-name\s+\S+\s+)?(?:plaintext|sha1)\s+)(\S+)", _KEEP),
    # .netrc
    (r"(?i)\b(machine\s+\S+\s+login\s+\S+\s+password\s+)(\S+)", _KEEP),
)

_COMMAND_LINES: tuple[tuple[str, str], ...] = (
    # <password>...</password> in XML configs (unattend.xml, web.config, WLAN profiles' keyMaterial).
    (r"(?i)(<(\w*(?:password|secret|token|pwd|psk|key)\w*)>)[^<]+(</\2>)", _KEEP_AROUND),
    # mysql -pSECRET, mysqldump --password=..., sqlcmd -P, sshpass -p, psexec -p, ldapsearch -w, plink -pw...
    (r"(?i)\b((?:mysql|mysqldump|mysqladmin|mariadb)\b[^\n]*?\s-p)(?!\s)(\S+)", _KEEP),
    (r"(?i)\b((?:sqlcmd|bcp|osql|ipmitool)\b[^\n]*?\s-P\s+)(\S+)", _KEEP),
    (r"(?i)\b((?:sshpass|psexec(?:64)?(?:\.exe)?|paexec|docker\s+login|racadm)\b[^\n]*?\s-p\s+)(\S+)", _KEEP),
    (r"(?i)\b(ldap(?:search|modify|add|delete|passwd)\b[^\n]*?\s-w\s+)(\S+)", _KEEP),
    (r"(?i)\b((?:plink|pscp|psftp)(?:\.exe)?\b[^\n]*?\s-pw\s+)(\S+)", _KEEP),
    (r"(?i)\b(sqlplus\s+(?:-\w+\s+)*[^\s/]+/)([^\s@]+)", _KEEP),
    (r"(?i)\b(htpasswd\b[^\n]*?\s-\w*b\w*\s+\S+\s+\S+\s+)(\S+)", _KEEP),
    (r"(?i)(\s--?pass(?:word)?(?:=|\s+))(\S+)", _KEEP),
    (r"(?i)(\s/p(?:ass(?:word)?)?:)(\S+)", _KEEP),  # xfreerdp /p:..., cmdkey /pass:..., wmic /password:...
    (r"(?i)(\s/rp\s+)(?![/*])(\S+)", _KEEP),  # schtasks /ru x /rp ...
    (r"(?i)(\bpass:)(\S+)", _KEEP),  # openssl -passin pass:...
    (r"(?i)\b(smbclient\b[^\n]*?-U\s+[^\s%]+%)(\S+)", _KEEP),
    (r"(?i)\b((?:curl|wget)\b[^\n]*?\s(?:-u|--user)\s+[^\s:]+:)(\S+)", _KEEP),
    # Windows: net user bob SECRET /add; net use Z: \\srv\share SECRET /user:bob; autologon in the registry.
    (r"(?i)\b(net\s+user\s+(?:\"[^\"]+\"|\S+)\s+)(?![/*])(\S+)", _KEEP),
    (r"(?i)\b(net\s+use\s+(?:[a-z*]:\s+)?\\\\\S+\s+)(?![/*])(\S+)", _KEEP),
    (r"(?i)(/v\s+\"?\w*Password\"?\s+(?:/t\s+\S+\s+)?/d\s+)" + _WORD, _KEEP),
    (r"(?i)\b(\w*Password\s+REG_SZ\s+)(\S+)", _KEEP),
    (r"(?i)(-Name\s+[\"']?\w*Password[\"']?\s+-Value\s+)" + _WORD, _KEEP),
    # PowerShell: -Password/-NewPassword/-AccountPassword values and ConvertTo-SecureString "..." -AsPlainText.
    (r"(?i)(ConvertTo-SecureString\s+(?:-String\s+)?)(\"[^\"]*\"|'[^']*'|\S+)", _KEEP),
    (r"(?i)(\s-\w*Password\s+)(?!\(|-)(\S+)", _KEEP),
)

_PROSE_AND_PAIRS: tuple[tuple[str, str], ...] = (
    # "set the admin password to X", "the password was changed to X".
    (
        r"(?i)\b((?:set|changed?|reset|updated?)\s+(?:\w+\s+){0,3}?(?:password|passwd|pwd|pw|passphrase|psk|pin)"
        r"(?:\s+(?:for|of|on)\s+\S+)?\s+to\s+)" + _NOT_A_VALUE + _VALUE,
        _KEEP,
    ),
    (
        r"(?i)\b((?:password|passwd|pwd|pw|passphrase|psk|pin)\s+(?:was\s+|is\s+|has\s+been\s+)?"
        r"(?:set|changed|reset|updated)\s+to\s+)" + _NOT_A_VALUE + _VALUE,
        _KEEP,
    ),
    # key=value, key: value, "key": "value" in connection strings, configs and prose, in any of the languages.
    (r"(?i)(?<![\w-])(" + _SENSITIVE_NAME + r"[\"']?\s*(?:=|:)\s*)" + _VALUE, _KEEP),
    # Prose: "the password for the admin account is X", "das Kennwort lautet X", "la contraseña es X".
    (
        r"(?i)\b((?:password|passwd|passphrase|passcode|pwd|pw|psk|pin|secret|pre-?shared\s+key|"
        r"(?:wi-?fi|wpa2?|network)\s+key|" + _TRANSLATED_WORDS + r")\b[^.\n:=]{0,60}?"
        r"(?<!\w)(?:is|was|are|were|ist|lautet|war|est|était|es|era|é|è|är|=)\s+"
        r"(?:now\s+|still\s+|jetzt\s+|maintenant\s+|ahora\s+|nu\s+)?)" + _NOT_A_VALUE + _VALUE,
        _KEEP,
    ),
    # "password Hunter2!": a password word right before something shaped like one (letters with digits or symbols).
    (
        r"(?i)\b((?:password|passwd|pwd|pw|passphrase|psk|" + _TRANSLATED_WORDS + r")\s+)(?!0x)(?=\S*[^\W\d_])"
        r"(?=\S*[0-9!@#$%^&*])([^\s,;]{6,})",
        _KEEP,
    ),
)


def _on_one_line(pattern: str) -> str:
    # A config statement is one line: its keyword and value never span two.
    return pattern.replace(r"\s+", r"[ \t]+")


PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.S if "PRIVATE KEY" in pattern else 0), replacement)
    for pattern, replacement in (
        *_KEYS_AND_TOKENS,
        *_URLS,
        *_HEADERS_AND_COOKIES,
        *((_on_one_line(pattern), replacement) for pattern, replacement in _DEVICE_CONFIGS),
        *_COMMAND_LINES,
        *_PROSE_AND_PAIRS,
    )
)
