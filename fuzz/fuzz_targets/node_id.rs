//! Global ID parsing never panics; an accepted ID is canonical and
//! round-trips through its typed ID, and the typed parsers agree with it.

#![no_main]

use auditgraph::domain::ids::{ActorId, ApiKeyId, EventId, NodeId, ResourceId, TenantId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = NodeId::parse(text);
    assert_eq!(NodeId::parse_input(text, "id").ok(), parsed);
    if let Some(id) = parsed {
        let printed = match id {
            NodeId::EventId(x) => x.to_string(),
            NodeId::ActorId(x) => x.to_string(),
            NodeId::ResourceId(x) => x.to_string(),
            NodeId::ApiKeyId(x) => x.to_string(),
            NodeId::TenantId(x) => x.to_string(),
        };
        assert_eq!(printed, text, "an accepted ID is printed back as given");
        assert_eq!(NodeId::parse(&printed), Some(id));
    }
    assert_eq!(
        EventId::parse(text, "id").ok().map(NodeId::from),
        parsed.filter(|p| matches!(p, NodeId::EventId(_)))
    );
    assert_eq!(
        ActorId::parse(text, "id").ok().map(NodeId::from),
        parsed.filter(|p| matches!(p, NodeId::ActorId(_)))
    );
    assert_eq!(
        ResourceId::parse(text, "id").ok().map(NodeId::from),
        parsed.filter(|p| matches!(p, NodeId::ResourceId(_)))
    );
    assert_eq!(
        ApiKeyId::parse(text, "id").ok().map(NodeId::from),
        parsed.filter(|p| matches!(p, NodeId::ApiKeyId(_)))
    );
    assert_eq!(
        TenantId::parse(text, "id").ok().map(NodeId::from),
        parsed.filter(|p| matches!(p, NodeId::TenantId(_)))
    );
});
