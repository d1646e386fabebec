//! The demo banner's ready-to-paste curl lines, one flow per dialect.

use crate::{Demo, DialectName};

/// Extracts a JSON string field from the previous command's output.
fn grab(field: &str) -> String {
    format!("sed 's/.*\"{field}\":\"\\([^\"]*\\)\".*/\\1/'")
}

pub(crate) fn lines(demo: &Demo, base: &str) -> Vec<String> {
    let u = &demo.users[0];
    let (name, pw) = (&u.name, &u.password);
    let json = "-H 'content-type: application/json'";
    let mut out = vec![format!("curl -s {base}/public")];
    match demo.dialect {
        // Cookie mode: the tokens are in the cookie jar, the CSRF value in the login's answer.
        DialectName::Standard if demo.cookies.is_some() => out.extend([
            format!("CSRF=$(curl -s -c jar.txt -X POST {base}/auth/login {json} -d '{{\"username\":\"{name}\",\"password\":\"{pw}\"}}' | {})", grab("csrf_token")),
            format!("curl -s -b jar.txt {base}/whoami"),
            format!("curl -s -b jar.txt -X POST {base}/notes {json} -H \"X-CSRF-Token: $CSRF\" -d '{{\"text\":\"hello\"}}'"),
            format!("curl -s -b jar.txt -X POST {base}/notes {json} -d '{{\"text\":\"no CSRF header: 403\"}}'"),
            format!("curl -s -b jar.txt -c jar.txt -X POST {base}/auth/refresh -H \"X-CSRF-Token: $CSRF\""),
            format!("curl -s -i -b jar.txt -c jar.txt -X POST {base}/auth/logout -H \"X-CSRF-Token: $CSRF\""),
        ]),
        DialectName::Standard => out.extend([
            format!("TOKEN=$(curl -s -X POST {base}/auth/login {json} -d '{{\"username\":\"{name}\",\"password\":\"{pw}\"}}' | {})", grab("access_token")),
            format!("curl -s {base}/whoami -H \"Authorization: Bearer $TOKEN\""),
            format!("curl -s -X POST {base}/auth/verify {json} -d \"{{\\\"token\\\":\\\"$TOKEN\\\"}}\""),
            format!("curl -s -i -X POST {base}/auth/logout -H \"Authorization: Bearer $TOKEN\""),
        ]),
        DialectName::Echome => out.extend([
            format!("OUT=$(curl -s -X POST {json} -d '{{\"username\": \"{name}\", \"password\": \"{pw}\"}}' {base}/api/v1/identity/token)"),
            format!("ACCESS_TOKEN=$(echo \"$OUT\" | {}); REFRESH_TOKEN=$(echo \"$OUT\" | {})", grab("access"), grab("refresh")),
            format!("curl -s -H 'Accept: application/json' -H \"Authorization: Bearer ${{ACCESS_TOKEN}}\" {base}/api/v1/vm/vm/describe/all"),
            format!("curl -s -X POST -H 'Accept: application/json' -H \"Authorization: Bearer ${{ACCESS_TOKEN}}\" {base}/api/v1/identity/token/refresh -d \"refresh=${{REFRESH_TOKEN}}\""),
        ]),
        DialectName::Datarhei => out.extend([
            format!("OUT=$(curl -s {base}/api/login -H 'accept: application/json' {json} -X POST -d '{{\"username\": \"{name}\", \"password\": \"{pw}\"}}')"),
            format!("ACCESS=$(echo \"$OUT\" | {}); REFRESH=$(echo \"$OUT\" | {})", grab("access_token"), grab("refresh_token")),
            format!("curl -s {base}/whoami -H \"Authorization: Bearer $ACCESS\""),
            format!("curl -s {base}/api/login/refresh -H 'accept: application/json' -H \"Authorization: Bearer $REFRESH\" -X GET"),
        ]),
        DialectName::Sachet => out.extend([
            format!("TOKEN=$(curl -s -X POST {base}/users/login {json} -d '{{\"username\": \"{name}\", \"password\": \"{pw}\"}}' | {})", grab("auth_token")),
            format!("curl -s {base}/users/{name} -H \"Authorization: Bearer $TOKEN\""),
            format!("curl -s -X POST {base}/users/extend -H \"Authorization: Bearer $TOKEN\""),
            format!("curl -s -X POST {base}/users/logout -H \"Authorization: Bearer $TOKEN\" {json} -d \"{{\\\"token\\\": \\\"$TOKEN\\\"}}\""),
        ]),
        DialectName::Keytoken => out.extend([
            format!("OUT=$(curl -s -X POST {base}/users/token {json} -d '{{\"client\": \"demo\", \"email\": \"{name}\", \"password\": \"{pw}\"}}')"),
            format!("KEY=$(echo \"$OUT\" | {}); TOKEN=$(echo \"$OUT\" | {})", grab("key"), grab("token")),
            format!("curl -s -X PATCH {base}/users -u \"$KEY:$TOKEN\" {json} -d '{{\"email\": \"{name}\"}}'"),
            format!("curl -s -X DELETE {base}/users/token -u \"$KEY:$TOKEN\" {json} -d '{{\"client\": \"demo\"}}'"),
        ]),
        DialectName::Drf => out.extend([
            format!("TOKEN=$(curl -s -X POST {base}/auth/access_token/ {json} -d '{{\"username\":\"{name}\",\"password\":\"{pw}\"}}' | {})", grab("access_token")),
            format!("curl -s -X POST {base}/protected-url/ -H \"Authorization: Token $TOKEN\""),
            format!("curl -s -X POST {base}/auth/refresh_token/ {json} -d \"{{\\\"token\\\": \\\"$TOKEN\\\"}}\""),
            format!("curl -s -X POST {base}/auth/verify_token/ {json} -d \"{{\\\"token\\\": \\\"$TOKEN\\\"}}\""),
        ]),
    }
    out.push(format!("curl -s {base}/maybe"));
    out
}
