//! Parameter normalisation and the signature base string (RFC 5849 section 3.4.1).

use crate::encoding::{encode_into, percent_encode};

/// Normalises request parameters per section 3.4.1.3.2: each name and value
/// percent-encoded, pairs sorted by encoded name then encoded value (byte order),
/// joined as `name=value` with `&`. Duplicates are kept.
///
/// ```
/// use grantlog_oauth1::base_string::normalize_parameters;
/// let params = [("b5", "=%3D"), ("a3", "a"), ("c@", ""), ("a2", "r b"), ("a3", "2 q")];
/// assert_eq!(normalize_parameters(params), "a2=r%20b&a3=2%20q&a3=a&b5=%3D%253D&c%40=");
/// ```
pub fn normalize_parameters<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut encoded: Vec<(String, String)> =
        params.into_iter().map(|(name, value)| (percent_encode(name), percent_encode(value))).collect();
    encoded.sort_unstable();
    let mut normalized = String::with_capacity(encoded.iter().map(|(n, v)| n.len() + v.len() + 2).sum());
    for (index, (name, value)) in encoded.iter().enumerate() {
        if index > 0 {
            normalized.push('&');
        }
        normalized.push_str(name);
        normalized.push('=');
        normalized.push_str(value);
    }
    normalized
}

/// Joins the method (uppercased), the base string URI and the normalised parameters,
/// each percent-encoded, with `&` (section 3.4.1.1).
pub fn signature_base_string(method: &str, base_uri: &str, normalized_params: &str) -> String {
    let mut base = String::with_capacity(method.len() + base_uri.len() * 3 / 2 + normalized_params.len() * 3 / 2 + 2);
    encode_into(&mut base, &method.to_ascii_uppercase());
    base.push('&');
    encode_into(&mut base, base_uri);
    base.push('&');
    encode_into(&mut base, normalized_params);
    base
}
