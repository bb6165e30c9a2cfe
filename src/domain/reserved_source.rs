//! The `sourceService` of the server's own events is reserved: no producer
//! may use it, or anything a person would read as it. Names are compared as
//! UTS 39 prescribes for confusables: after NFKC normalisation, case folding
//! and the removal of default-ignorable code points (zero-width spaces, joiners,
//! variation selectors), by their confusable skeleton, so `auditgraph\u{200b}`,
//! `AUDITGRAPH` and `\u{430}uditgraph` (a Cyrillic а) are all the reserved name.

use unicode_normalization::UnicodeNormalization;

use super::event::SELF_AUDIT_SOURCE;

/// The form two names are compared in.
fn comparable(name: &str) -> String {
    let normalized: String = name.trim().nfkc().collect();
    let folded = caseless::default_case_fold_str(&normalized);
    // The skeleton drops default-ignorable code points itself.
    unicode_security::skeleton(folded.trim()).collect()
}

/// Whether `name` reads as the server's own `sourceService`.
pub fn is_reserved(name: &str) -> bool {
    comparable(name) == comparable(SELF_AUDIT_SOURCE)
}

#[cfg(test)]
mod tests {
    use super::is_reserved;

    #[test]
    fn look_alikes_of_the_reserved_name_are_reserved() {
        for name in [
            "auditgraph",
            "AuditGraph",
            " auditgraph\t",
            "auditgraph\u{200b}",
            "audit\u{200d}graph",
            "\u{feff}auditgraph",
            "\u{430}uditgraph",
            "auditgr\u{430}ph",
            "ａｕｄｉｔｇｒａｐｈ",
            "audıtgraph",
            "AUDITGRAPH\u{fe0f}",
        ] {
            assert!(is_reserved(name), "{name:?} passed");
        }
    }

    #[test]
    fn other_names_are_free() {
        for name in ["auditgraph-proxy", "billing", "audit graph", "auditgraphs", "graphaudit", ""] {
            assert!(!is_reserved(name), "{name:?} was refused");
        }
    }
}
