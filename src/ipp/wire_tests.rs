use super::*;

/// One raw attribute record: value tag, name, value bytes.
type Record<'a> = (u8, &'a str, Vec<u8>);

/// Builds a request: header, then groups of records.
fn request(groups: &[(u8, Vec<Record<'_>>)]) -> Vec<u8> {
    let mut out = vec![2, 0, 0, 2, 0, 0, 0, 1];
    for (gtag, records) in groups {
        out.push(*gtag);
        for (t, name, value) in records {
            out.push(*t);
            out.extend_from_slice(&(name.len() as u16).to_be_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&(value.len() as u16).to_be_bytes());
            out.extend_from_slice(value);
        }
    }
    out.push(tag::END);
    out
}

fn envelope() -> Vec<Record<'static>> {
    vec![
        (0x47, "attributes-charset", b"utf-8".to_vec()),
        (0x48, "attributes-natural-language", b"en".to_vec()),
    ]
}

#[test]
fn a_well_formed_request_decodes_with_its_document_offset() {
    let mut bytes = request(&[(tag::OPERATION, envelope())]);
    let end = bytes.len();
    bytes.extend_from_slice(b"%PDF-");
    let (req, used) = decode(&bytes).unwrap();
    assert_eq!(used, end);
    assert_eq!(req.operation, 2);
    assert_eq!(req.groups[0].attrs.len(), 2);
}

#[test]
fn every_prefix_of_a_request_is_incomplete_not_an_error() {
    let bytes = request(&[(tag::OPERATION, envelope())]);
    for n in 0..bytes.len() {
        assert_eq!(
            decode(&bytes[..n]),
            Err(DecodeError::Incomplete),
            "prefix {n}"
        );
    }
}

/// ipp 8.0.0 panics on this value (a textWithLanguage whose inner lengths run past it).
#[test]
fn a_malformed_text_with_language_is_an_error_not_a_panic() {
    let mut records = envelope();
    records.push((0x35, "job-name", vec![0x00, 0x10]));
    let bytes = request(&[(tag::OPERATION, records)]);
    assert!(matches!(decode(&bytes), Err(DecodeError::Malformed(_))));
}

/// ipp 8.0.0 keeps only the first value of a 1setOf inside a collection member.
#[test]
fn every_value_of_a_1set_of_collection_member_is_kept() {
    let mut records = envelope();
    records.push((BEG_COLLECTION, "media-col", vec![]));
    records.push((MEMBER_ATTR_NAME, "", b"media-source-properties".to_vec()));
    records.push((0x44, "", b"a".to_vec()));
    records.push((0x44, "", b"b".to_vec()));
    records.push((0x44, "", b"c".to_vec()));
    records.push((END_COLLECTION, "", vec![]));
    let bytes = request(&[(tag::OPERATION, records)]);
    let (req, _) = decode(&bytes).unwrap();
    let IppValue::Collection(members) = &req.groups[0].get("media-col").unwrap().values[0] else {
        panic!("not a collection");
    };
    let IppValue::Array(values) = members.values().next().unwrap() else {
        panic!("1setOf member collapsed to one value");
    };
    assert_eq!(values.len(), 3);
}

/// ipp 8.0.0 writes every value of a mixed 1setOf with the first value's tag.
#[test]
fn each_value_of_a_mixed_1set_of_is_written_with_its_own_tag() {
    let resp = Response {
        version: (2, 0),
        status: 0,
        request_id: 1,
        groups: vec![Group {
            tag: tag::PRINTER,
            attrs: vec![Attr::set(
                "media-col-ready",
                vec![
                    IppValue::Keyword(BoundedString::new_truncated("iso_a4_210x297mm")),
                    IppValue::NameWithoutLanguage(BoundedString::new_truncated("custom")),
                ],
            )],
        }],
    };
    let bytes = encode(&resp);
    // Decode our own output as if it were a request: the tags must survive.
    let (back, _) = decode(&bytes).unwrap();
    let values = &back.groups[0].attrs[0].values;
    assert!(matches!(values[0], IppValue::Keyword(_)));
    assert!(matches!(values[1], IppValue::NameWithoutLanguage(_)));
}

/// ipp 8.0.0 fails the whole request when a name is longer than 255 bytes.
#[test]
fn a_name_longer_than_255_bytes_is_truncated_and_flagged() {
    let mut records = envelope();
    let long = "é".repeat(150); // 300 bytes
    records.push((0x42, "job-name", long.as_bytes().to_vec()));
    let bytes = request(&[(tag::OPERATION, records)]);
    let (req, _) = decode(&bytes).unwrap();
    let attr = req.groups[0].get("job-name").unwrap();
    assert!(attr.truncated);
    let IppValue::NameWithoutLanguage(name) = &attr.values[0] else {
        panic!("wrong syntax");
    };
    assert!(name.len() <= 255 && name.as_str().chars().all(|c| c == 'é'));
}

#[test]
fn collections_round_trip_through_encode_and_decode() {
    let mut inner = BTreeMap::new();
    inner.insert(
        BoundedString::new_truncated("x-dimension"),
        IppValue::Integer(21000),
    );
    inner.insert(
        BoundedString::new_truncated("y-dimension"),
        IppValue::Integer(29700),
    );
    let mut outer = BTreeMap::new();
    outer.insert(
        BoundedString::new_truncated("media-size"),
        IppValue::Collection(inner),
    );
    let resp = Response {
        version: (2, 0),
        status: 0,
        request_id: 7,
        groups: vec![Group {
            tag: tag::PRINTER,
            attrs: vec![Attr::new(
                "media-col-default",
                IppValue::Collection(outer.clone()),
            )],
        }],
    };
    let (back, _) = decode(&encode(&resp)).unwrap();
    assert_eq!(
        back.groups[0].attrs[0].values[0],
        IppValue::Collection(outer)
    );
}

#[test]
fn wrong_value_lengths_are_malformed() {
    for (t, v) in [
        (0x21u8, vec![0u8; 3]),
        (0x22, vec![2]),
        (0x31, vec![0; 10]),
        (0x33, vec![0; 7]),
    ] {
        let mut records = envelope();
        records.push((t, "x", v));
        let bytes = request(&[(tag::OPERATION, records)]);
        assert!(
            matches!(decode(&bytes), Err(DecodeError::Malformed(_))),
            "tag {t:#x}"
        );
    }
}

#[test]
fn an_attribute_before_any_group_is_malformed() {
    let mut bytes = vec![2, 0, 0, 2, 0, 0, 0, 1];
    bytes.extend_from_slice(&[0x47, 0, 1, b'a', 0, 1, b'b', tag::END]);
    assert!(matches!(decode(&bytes), Err(DecodeError::Malformed(_))));
}
