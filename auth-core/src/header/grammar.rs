//! The character classes of the header grammar: RFC 9110 `token` (scheme
//! and header names) and RFC 7235 `token68` (the credentials).

/// The characters of an RFC 9110 `token` (a scheme name).
const TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        i += 1;
    }
    table
};

/// Whether `b` may appear in an RFC 9110 `token` (a scheme or header name).
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// Whether `b` is a token68 character before the `=` padding.
pub(super) const fn is_token68_char(b: u8) -> bool {
    // `b | 0x20` folds A-Z onto a-z and maps nothing else into a-z.
    let lower = b | 0x20;
    (lower.wrapping_sub(b'a') < 26)
        | (b.wrapping_sub(b'0') < 10)
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
}

/// `token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="` (RFC 7235).
/// It runs over every byte of every token: branch-free, so that it
/// compiles to vector compares (one pass, no early exit: a valid token is
/// read to the end anyway).
pub(super) fn is_token68(s: &[u8]) -> bool {
    let body_len = s.len() - s.iter().rev().take_while(|b| **b == b'=').count();
    body_len > 0 && s[..body_len].iter().fold(true, |ok, b| ok & is_token68_char(*b))
}
