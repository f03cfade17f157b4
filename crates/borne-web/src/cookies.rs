//! Reading a request's cookie and writing one that scripts cannot read and other sites cannot
//! send (`HttpOnly; SameSite=Strict`, `Secure` behind TLS).

use cookie::{Cookie, SameSite};
use http::{HeaderMap, HeaderValue, header};

/// The value of cookie `name` in the request's `Cookie` headers (the first, when repeated).
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_string()))
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// A `Set-Cookie` value; `max_age` `Some(0)` deletes the cookie.
pub fn set(name: &str, value: &str, path: &str, secure: bool, max_age: Option<u64>) -> HeaderValue {
    with_same_site(name, value, path, secure, max_age, SameSite::Strict)
}

/// A cookie also sent when another site sends the browser here by a link or a redirect (but not
/// with another site's form posts or subrequests): for what a sign-in provider's return needs.
pub fn set_lax(name: &str, value: &str, path: &str, secure: bool, max_age: Option<u64>) -> HeaderValue {
    with_same_site(name, value, path, secure, max_age, SameSite::Lax)
}

fn with_same_site(
    name: &str,
    value: &str,
    path: &str,
    secure: bool,
    max_age: Option<u64>,
    same_site: SameSite,
) -> HeaderValue {
    let mut cookie = Cookie::build((name.to_string(), value.to_string()))
        .path(path.to_string())
        .http_only(true)
        .same_site(same_site)
        .secure(secure);
    if let Some(seconds) = max_age {
        cookie = cookie.max_age(cookie::time::Duration::seconds(seconds.min(i64::MAX as u64) as i64));
    }
    HeaderValue::from_str(&cookie.build().to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
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
        let parsed = |v: HeaderValue| Cookie::parse(v.to_str().unwrap().to_string()).unwrap();
        let deleting = parsed(set("s", "v", "/", true, Some(0)));
        assert_eq!((deleting.name(), deleting.value(), deleting.path()), ("s", "v", Some("/")));
        assert_eq!(
            (deleting.http_only(), deleting.secure(), deleting.same_site()),
            (Some(true), Some(true), Some(SameSite::Strict))
        );
        assert_eq!(deleting.max_age(), Some(cookie::time::Duration::ZERO));
        let session = parsed(set("s", "v", "/c", false, None));
        assert_eq!((session.path(), session.secure(), session.max_age()), (Some("/c"), None, None));
        assert_eq!(session.same_site(), Some(SameSite::Strict));
        let flow = parsed(set_lax("f", "v", "/c", true, Some(600)));
        assert_eq!(
            (flow.same_site(), flow.max_age()),
            (Some(SameSite::Lax), Some(cookie::time::Duration::seconds(600)))
        );
        // A quoted value and a malformed pair among others.
        let mut odd = HeaderMap::new();
        odd.append(header::COOKIE, HeaderValue::from_static("broken; token=\"q\"; x=1"));
        assert_eq!(get(&odd, "x").as_deref(), Some("1"));
    }
}
