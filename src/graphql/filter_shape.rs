//! What the filter budget sees of an `AuditEventFilter` input: its sub-filters
//! and how many values its lists hold.

use super::filter_input::{ActorMatch, AuditEventFilter, ResourceMatch, StringMatch};
use crate::domain::filter_budget::FilterShape;

fn len<T>(list: &Option<Vec<T>>) -> usize {
    list.as_ref().map_or(0, Vec::len)
}

fn string_match(m: &Option<StringMatch>) -> usize {
    m.as_ref().map_or(0, |m| len(&m.is_in) + len(&m.not_in))
}

fn actor_match(m: &Option<ActorMatch>) -> usize {
    m.as_ref().map_or(0, |m| len(&m.id) + len(&m.kind) + len(&m.external_id) + len(&m.email))
}

fn resource_match(m: &Option<ResourceMatch>) -> usize {
    m.as_ref().map_or(0, |m| len(&m.id) + len(&m.kind) + len(&m.external_id))
}

impl FilterShape for AuditEventFilter {
    fn and_filters(&self) -> Option<&[Self]> {
        self.and.as_deref()
    }

    fn or_filters(&self) -> Option<&[Self]> {
        self.or.as_deref()
    }

    fn not_filter(&self) -> Option<&Self> {
        self.not.as_deref()
    }

    fn list_values(&self) -> usize {
        [&self.action, &self.category, &self.environment, &self.source_service]
            .into_iter()
            .map(string_match)
            .sum::<usize>()
            + actor_match(&self.actor)
            + resource_match(&self.resource)
            + resource_match(&self.related_to)
    }
}
