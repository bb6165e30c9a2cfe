//! Cursor decoding never panics, and what it accepts round-trips: any text,
//! and base64url of any bytes (to reach the binary layout quickly).

#![no_main]

use auditgraph::domain::cursor::{Cursor, EventOrder, OrderField, SortDirection};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;

const ORDERS: [EventOrder; 4] = [
    EventOrder {
        field: OrderField::OccurredAt,
        direction: SortDirection::Desc,
    },
    EventOrder {
        field: OrderField::OccurredAt,
        direction: SortDirection::Asc,
    },
    EventOrder {
        field: OrderField::ReceivedAt,
        direction: SortDirection::Desc,
    },
    EventOrder {
        field: OrderField::ReceivedAt,
        direction: SortDirection::Asc,
    },
];

fn check(text: &str) {
    let decoded = Cursor::decode(text);
    if let Some(cursor) = decoded {
        let encoded = cursor.encode();
        assert_eq!(Cursor::decode(&encoded), Some(cursor), "decode(encode(c)) == c");
        assert_eq!(
            encoded, text,
            "an accepted cursor is the canonical encoding of what it decodes to"
        );
    }
    for order in ORDERS {
        match Cursor::decode_event(text, order, "after") {
            Ok((at, id)) => assert_eq!(decoded, Some(Cursor::Event { order, at, id })),
            Err(_) => assert!(!matches!(decoded, Some(Cursor::Event { order: o, .. }) if o == order)),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check(text);
    }
    check(&URL_SAFE_NO_PAD.encode(data));
});
