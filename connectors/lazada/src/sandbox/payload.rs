//! `payload` as Lazada accepts it: JSON (`{"Request":{…}}`) or XML
//! (`<Request>…</Request>`), read into one JSON shape.

use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::{Map, Value};

pub fn parse(text: &str) -> Option<Value> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('<') {
        xml(trimmed)
    } else {
        serde_json::from_str(trimmed).ok()
    }
}

/// Elements become keys; repeated elements become arrays; text becomes strings.
fn xml(text: &str) -> Option<Value> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<(String, Map<String, Value>, String)> =
        vec![(String::new(), Map::new(), String::new())];
    loop {
        match reader.read_event().ok()? {
            Event::Start(start) => {
                let name = start.name().as_ref().to_string();
                stack.push((name, Map::new(), String::new()));
            }
            Event::Text(text) => stack.last_mut()?.2.push_str(&text.xml10_content()),
            Event::CData(data) => stack.last_mut()?.2.push_str(&data.xml10_content()),
            // `&amp;`, `&#233;`: entity references arrive on their own.
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref().ok()? {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(reference.as_ref())?
                        .to_string(),
                };
                stack.last_mut()?.2.push_str(&resolved);
            }
            Event::Empty(empty) => {
                let name = empty.name().as_ref().to_string();
                insert(&mut stack.last_mut()?.1, name, Value::String(String::new()));
            }
            Event::End(_) => {
                let (name, children, text) = stack.pop()?;
                let value = if children.is_empty() {
                    Value::String(text.trim().to_string())
                } else {
                    Value::Object(children)
                };
                insert(&mut stack.last_mut()?.1, name, value);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let (_, root, _) = stack.pop()?;
    Some(Value::Object(root))
}

fn insert(map: &mut Map<String, Value>, name: String, value: Value) {
    match map.get_mut(&name) {
        Some(Value::Array(list)) => list.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
        None => {
            map.insert(name, value);
        }
    }
}

/// A list however it was written: an array, one object, or nothing.
pub fn list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        Value::String(s) if s.is_empty() => Vec::new(),
        other => vec![other.clone()],
    }
}

/// A number however it was written (`42` or `"42"`).
pub fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_and_json_payloads_read_alike() {
        let xml_text = r#"<?xml version="1.0" encoding="UTF-8" ?><Request><Product><Skus><Sku><ItemId>6718170187</ItemId><SellerSku>GAO-ST25-5KG</SellerSku><Price>185000</Price></Sku><Sku><ItemId>1</ItemId><SellerSku>B&amp;C</SellerSku><Price>2</Price></Sku></Skus></Product></Request>"#;
        let from_xml = parse(xml_text).expect("xml");
        let skus = list(&from_xml["Request"]["Product"]["Skus"]["Sku"]);
        assert_eq!(skus.len(), 2);
        assert_eq!(skus[0]["SellerSku"], "GAO-ST25-5KG");
        assert_eq!(skus[1]["SellerSku"], "B&C");
        assert_eq!(number(&skus[0]["Price"]), Some(185000.0));
        let from_json =
            parse(r#"{"Request":{"Product":{"Skus":{"Sku":{"SellerSku":"X","Price":3}}}}}"#)
                .expect("json");
        assert_eq!(
            list(&from_json["Request"]["Product"]["Skus"]["Sku"]).len(),
            1
        );
    }
}
