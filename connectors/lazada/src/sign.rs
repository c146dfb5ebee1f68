//! Lazada signing: HMAC-SHA256 with the app secret over the API path followed
//! by every parameter (system and business, `payload` included, `sign`
//! excluded) as `name` + `value`, sorted by name; upper-case hex. Pushes are
//! signed lower-case over `app_key` + raw body.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &str) -> HmacSha256 {
    // HMAC takes keys of any length; this cannot fail.
    HmacSha256::new_from_slice(key.as_bytes()).unwrap_or_else(|_| unreachable!())
}

/// The `sign` parameter of a call. Empty parameters must not be sent (SDKs
/// disagree on signing them), so they are refused here by construction.
pub fn request(app_secret: &str, api_path: &str, params: &[(&str, &str)]) -> String {
    let mut sorted: Vec<&(&str, &str)> =
        params.iter().filter(|(name, _)| *name != "sign").collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut mac = mac(app_secret);
    mac.update(api_path.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    hex::encode_upper(mac.finalize().into_bytes())
}

/// The `Authorization` header of a push.
pub fn push(app_secret: &str, app_key: &str, raw_body: &[u8]) -> String {
    let mut mac = mac(app_secret);
    mac.update(app_key.as_bytes());
    mac.update(raw_body);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a push signature in constant time.
pub fn verify_push(app_secret: &str, app_key: &str, raw_body: &[u8], given_hex: &str) -> bool {
    let Ok(given) = hex::decode(given_hex.trim()) else {
        return false;
    };
    let mut mac = mac(app_secret);
    mac.update(app_key.as_bytes());
    mac.update(raw_body);
    mac.verify_slice(&given).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The vectors of shared/marketplaces/lazada.md §2.3 and §2.6.
    const SECRET: &str = "helloworld_app_secret_0001";

    #[test]
    fn token_create_signature_matches_l1() {
        let params = [
            ("app_key", "100001"),
            ("timestamp", "1700000000000"),
            ("sign_method", "sha256"),
            ("code", "0_100001_AbCdEfGh123"),
        ];
        assert_eq!(
            request(SECRET, "/auth/token/create", &params),
            "AA21770146A966B72A5B5F8035C91BEBBE28660508BA5E9A1D60A41CE3246992"
        );
    }

    #[test]
    fn price_quantity_signature_with_an_xml_payload_matches_l2() {
        let payload = r#"<?xml version="1.0" encoding="UTF-8" ?><Request><Product><Skus><Sku><ItemId>6718170187</ItemId><SkuId>12761620980</SkuId><SellerSku>GAO-ST25-5KG</SellerSku><Price>185000</Price><Quantity>42</Quantity></Sku></Skus></Product></Request>"#;
        let params = [
            ("app_key", "100001"),
            ("timestamp", "1700000123000"),
            ("sign_method", "sha256"),
            (
                "access_token",
                "50000601c30atpedfgu3LVvik87Ixlsvle3mSoB7701ceb156fPunYZ43GBg",
            ),
            ("payload", payload),
        ];
        assert_eq!(
            request(SECRET, "/product/price_quantity/update", &params),
            "3C6B5619E2EBB8A7E25859D7E8CF0C31267FAA15C4E0F8572A54960F14E72D29"
        );
    }

    #[test]
    fn parameters_are_sorted_by_name_as_in_l3() {
        let params = [
            ("foo", "1"),
            ("bar", "2"),
            ("foo_bar", "3"),
            ("foobar", "4"),
        ];
        assert_eq!(
            request(SECRET, "/test/api", &params),
            "95E69F0BF1C3EE229FABF5CB95E1F4EA9B55614AC510F076C7EE13393F625B26"
        );
    }

    #[test]
    fn push_signature_matches_the_reference_vector() {
        let body = br#"{"seller_id":"1234567","message_type":0,"data":{"order_status":"canceled","trade_order_id":"260422900198363","trade_order_line_id":"260422900298363","status_update_time":1603698638},"timestamp":1603766859530,"site":"lazada_vn"}"#;
        let expected = "eb0ca9cdfbb6b5e9ce0f6e262e895c0f0a2b925555848b0fd82cdafb598f7dc8";
        assert_eq!(push(SECRET, "100001", body), expected);
        assert!(verify_push(SECRET, "100001", body, expected));
        assert!(!verify_push(SECRET, "100002", body, expected));
    }
}
