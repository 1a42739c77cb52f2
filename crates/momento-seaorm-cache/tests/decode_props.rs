//! Property tests on value decoding: random bytes, truncations and wrong headers never panic,
//! and a value that does not decode is always a miss that the database answers.

use momento_seaorm_cache::{Compression, Envelope, SerdeFormat};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Row {
    id: i64,
    name: String,
    score: f64,
    tags: Vec<String>,
}

fn row() -> impl Strategy<Value = Row> {
    (
        any::<i64>(),
        ".{0,40}",
        -1e9f64..1e9,
        prop::collection::vec(".{0,8}", 0..4),
    )
        .prop_map(|(id, name, score, tags)| Row {
            id,
            name,
            score,
            tags,
        })
}

fn envelope() -> impl Strategy<Value = Envelope> {
    let format = prop_oneof![Just(SerdeFormat::Json), Just(SerdeFormat::Postcard)];
    let compression = prop_oneof![
        Just(Compression::None),
        Just(Compression::Zlib),
        Just(Compression::Zstd)
    ];
    (format, compression).prop_map(|(format, compression)| Envelope {
        format,
        compression,
    })
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Envelope::default().decode::<Vec<Row>>(&bytes);
        let _ = Envelope::default().decode::<Option<Row>>(&bytes);
        let _ = Envelope::default().decode::<u64>(&bytes);
    }

    #[test]
    fn random_bodies_behind_a_valid_header_never_panic(
        header in 0u8..=0x22,
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut bytes = vec![b'M', b'S', 1, header];
        bytes.extend(body);
        let _ = Envelope::default().decode::<Vec<Row>>(&bytes);
    }

    #[test]
    fn every_value_round_trips(rows in prop::collection::vec(row(), 0..20), writer in envelope()) {
        let bytes = writer.encode(&rows).unwrap();
        let back: Vec<Row> = Envelope::default().decode(&bytes).unwrap();
        prop_assert_eq!(back, rows);
    }

    #[test]
    fn truncated_values_are_errors(
        rows in prop::collection::vec(row(), 1..20),
        writer in envelope(),
        cut in any::<prop::sample::Index>(),
    ) {
        let bytes = writer.encode(&rows).unwrap();
        let cut = cut.index(bytes.len());
        prop_assert!(Envelope::default().decode::<Vec<Row>>(&bytes[..cut]).is_err());
    }

    #[test]
    fn a_changed_header_byte_is_an_error_or_the_same_rows(
        rows in prop::collection::vec(row(), 1..10),
        writer in envelope(),
        position in 0usize..4,
        value in any::<u8>(),
    ) {
        let mut bytes = writer.encode(&rows).unwrap();
        bytes[position] = value;
        if let Ok(back) = Envelope::default().decode::<Vec<Row>>(&bytes) {
            prop_assert_eq!(back, rows);
        }
    }
}
