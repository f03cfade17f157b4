//! Reading a request's cookie and writing one that scripts cannot read and other sites cannot
//! send (`HttpOnly; SameSite=Strict`, `Secure` behind TLS).

use http::{HeaderMap, HeaderValue, header};

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value; `max_age` `Some(0)` deletes the cookie.
pub fn set(name: &str, value: &str, path: &str, secure: bool, max_age: Option<u64>) -> HeaderValue {
    with_same_site(name, value, path, secure, max_age, "Strict")
}

/// A cookie also sent when another site sends the browser here by a link or a redirect (but not
/// with another site's form posts or subrequests): for what a sign-in provider's return needs.
pub fn set_lax(name: &str, value: &str, path: &str, secure: bool, max_age: Option<u64>) -> HeaderValue {
    with_same_site(name, value, path, secure, max_age, "Lax")
}

fn with_same_site(
    name: &str,
    value: &str,
    path: &str,
    secure: bool,
    max_age: Option<u64>,
    same_site: &str,
) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let age = max_age.map(|s| format!("; Max-Age={s}")).unwrap_or_default();
    HeaderValue::from_str(&format!("{name}={value}; Path={path}; HttpOnly; SameSite={same_site}{secure}{age}"))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_among_others_and_written_locked_down() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; session=abc"));
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(get(&headers, "session").as_deref(), Some("abc"));
        assert_eq!(get(&headers, "b").as_deref(), Some("2"));
        assert_eq!(get(&headers, "sess"), None);
        assert_eq!(set("s", "v", "/", true, Some(0)), "s=v; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=0");
        assert_eq!(set("s", "v", "/c", false, None), "s=v; Path=/c; HttpOnly; SameSite=Strict");
        assert_eq!(
            set_lax("f", "v", "/c", true, Some(600)),
            "f=v; Path=/c; HttpOnly; SameSite=Lax; Secure; Max-Age=600"
        );
    }
}
