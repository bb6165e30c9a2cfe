//! The query parameters of `GET /v1/events`, mapped onto the domain filter and
//! page that GraphQL's `auditEvents` uses. A repeated parameter lists
//! alternatives; different parameters all narrow.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::domain::cursor::{Cursor, EventOrder, OrderField, SortDirection, SortKey};
use crate::domain::event::{ActorType, Outcome, check};
use crate::domain::filter::{ActorMatch, Condition, Filter, Range, ResourceMatch, StrField, StrTest};
use crate::domain::filter_spec::{MAX_LIST_VALUES, filter_string};
use crate::domain::page::{MAX_PAGE_SIZE, Page, PageArgs};
use crate::error::{Error, Result};

/// How events are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// `occurredAt`, newest first.
    #[default]
    Newest,
    /// `occurredAt`, oldest first.
    Oldest,
    /// `sequence`, ascending: the order to tail the log by.
    Sequence,
}

impl Order {
    fn event_order(self) -> EventOrder {
        match self {
            Order::Newest => EventOrder { field: OrderField::OccurredAt, direction: SortDirection::Desc },
            Order::Oldest => EventOrder { field: OrderField::OccurredAt, direction: SortDirection::Asc },
            Order::Sequence => EventOrder { field: OrderField::Sequence, direction: SortDirection::Asc },
        }
    }
}

/// The query parameters of `GET /v1/events`, for the document: they are read
/// by [`EventsQuery::parse`], which keeps repeated parameters.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query, style = Form)]
pub struct EventsQuery {
    /// Exact action; repeat for alternatives.
    #[param(required = false)]
    pub action: Vec<String>,
    /// Actions starting with this literal text; repeat for alternatives.
    #[param(required = false)]
    pub action_prefix: Vec<String>,
    /// The action's first segment.
    #[param(required = false)]
    pub category: Vec<String>,
    /// `success` or `failure`.
    #[param(required = false, inline)]
    pub outcome: Vec<OutcomeParam>,
    /// Actor type: `user`, `api_key`, `service_account`, `internal_service`, `system`, `anonymous`.
    #[param(required = false)]
    pub actor_type: Vec<String>,
    /// The producer's ID of the actor.
    #[param(required = false)]
    pub actor_id: Vec<String>,
    /// The actor's email (exact).
    #[param(required = false)]
    pub actor_email: Vec<String>,
    /// The primary resource's type.
    #[param(required = false)]
    pub resource_type: Vec<String>,
    /// The producer's ID of the primary resource.
    #[param(required = false)]
    pub resource_id: Vec<String>,
    /// The type of the primary or a related resource (with `related_id`, the same resource).
    #[param(required = false)]
    pub related_type: Vec<String>,
    /// The producer's ID of the primary or a related resource.
    #[param(required = false)]
    pub related_id: Vec<String>,
    #[param(required = false)]
    pub environment: Vec<String>,
    #[param(required = false)]
    pub source_service: Vec<String>,
    #[param(required = false)]
    pub correlation_id: Vec<String>,
    #[param(required = false)]
    pub request_id: Vec<String>,
    /// Compared as an address: `2001:DB8::1` equals `2001:db8::1`.
    #[param(required = false)]
    pub ip_address: Vec<String>,
    /// The request's HTTP status, at least.
    pub status_min: Option<i32>,
    /// The request's HTTP status, at most.
    pub status_max: Option<i32>,
    /// `occurredAt` at or after this instant (RFC 3339).
    #[param(format = DateTime, value_type = Option<String>)]
    pub from: Option<DateTime<Utc>>,
    /// `occurredAt` before this instant (RFC 3339).
    #[param(format = DateTime, value_type = Option<String>)]
    pub to: Option<DateTime<Utc>>,
    /// Only events with a greater `sequence`.
    #[param(minimum = 0)]
    pub after_sequence: Option<i64>,
    /// `newest` (default), `oldest` or `sequence`.
    #[param(inline)]
    pub order: Option<Order>,
    /// Events per page: 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page (with the same `order`).
    pub cursor: Option<String>,
    /// A query string, AND-ed with the other parameters, e.g.
    /// `action:workspace.* -outcome:failure metadata.size_gb:>10`.
    pub q: Option<String>,
}

/// An outcome as a query parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutcomeParam {
    Success,
    Failure,
}

/// Values of one parameter, or one word of an enumeration, compared case-insensitively.
pub(super) fn word<T: Copy>(value: &str, name: &str, words: &[(&str, T)]) -> Result<T> {
    words.iter().find(|(w, _)| w.eq_ignore_ascii_case(value)).map(|(_, v)| *v).ok_or_else(|| {
        let allowed: Vec<&str> = words.iter().map(|(w, _)| *w).collect();
        Error::bad_input(name, format!("`{value}` is not one of {}", allowed.join(", ")))
    })
}

pub(super) fn once<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<()> {
    if slot.replace(value).is_some() {
        return Err(Error::bad_input(name, "may be given only once"));
    }
    Ok(())
}

pub(super) fn number<T: std::str::FromStr>(value: &str, name: &str) -> Result<T> {
    value.trim().parse().map_err(|_| Error::bad_input(name, format!("`{value}` is not a whole number in range")))
}

fn instant(value: &str, name: &str) -> Result<DateTime<Utc>> {
    // An unescaped `+` in a query string arrives as a space.
    DateTime::parse_from_rfc3339(&value.trim().replace(' ', "+"))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| Error::bad_input(name, format!("`{value}` is not an RFC 3339 instant")))
}

/// What a page of events asks for, validated.
pub struct EventsRequest {
    pub filter: Filter,
    pub order: EventOrder,
    pub page: Page<(SortKey, uuid::Uuid)>,
}

impl EventsQuery {
    /// Reads the raw query string; unknown and malformed parameters are refused by name.
    pub fn parse(raw: Option<&str>) -> Result<EventsQuery> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
            .map_err(|e| Error::bad_input("query", format!("the query string does not decode: {e}")))?;
        if pairs.len() > MAX_LIST_VALUES {
            return Err(Error::bad_input("query", format!("at most {MAX_LIST_VALUES} parameters are allowed")));
        }
        let mut q = EventsQuery::default();
        for (name, value) in pairs {
            let n = name.as_str();
            let list = match n {
                "action" => &mut q.action,
                "action_prefix" => &mut q.action_prefix,
                "category" => &mut q.category,
                "actor_type" => &mut q.actor_type,
                "actor_id" => &mut q.actor_id,
                "actor_email" => &mut q.actor_email,
                "resource_type" => &mut q.resource_type,
                "resource_id" => &mut q.resource_id,
                "related_type" => &mut q.related_type,
                "related_id" => &mut q.related_id,
                "environment" => &mut q.environment,
                "source_service" => &mut q.source_service,
                "correlation_id" => &mut q.correlation_id,
                "request_id" => &mut q.request_id,
                "ip_address" => &mut q.ip_address,
                _ => {
                    match n {
                        "outcome" => q.outcome.push(word(
                            &value,
                            n,
                            &[("success", OutcomeParam::Success), ("failure", OutcomeParam::Failure)],
                        )?),
                        "status_min" => once(&mut q.status_min, n, number(&value, n)?)?,
                        "status_max" => once(&mut q.status_max, n, number(&value, n)?)?,
                        "from" => once(&mut q.from, n, instant(&value, n)?)?,
                        "to" => once(&mut q.to, n, instant(&value, n)?)?,
                        "after_sequence" => once(&mut q.after_sequence, n, number(&value, n)?)?,
                        "order" => once(
                            &mut q.order,
                            n,
                            word(
                                &value,
                                n,
                                &[("newest", Order::Newest), ("oldest", Order::Oldest), ("sequence", Order::Sequence)],
                            )?,
                        )?,
                        "limit" => once(&mut q.limit, n, number(&value, n)?)?,
                        "cursor" => once(&mut q.cursor, n, value)?,
                        "q" => once(&mut q.q, n, value)?,
                        _ => return Err(Error::bad_input(n, format!("`{n}` is not a parameter of this route"))),
                    }
                    continue;
                }
            };
            filter_string(&format!("{n}.{}", list.len()), &value)?;
            list.push(value);
        }
        Ok(q)
    }

    /// The domain filter, ordering and page; `now` is the instant a query's
    /// relative times count back from.
    pub fn into_request(mut self, now: DateTime<Utc>) -> Result<EventsRequest> {
        let (limit, order, cursor) = (self.limit.take(), self.order.take(), self.cursor.take());
        let filter = self.into_filter(now)?;
        let limit = limit.unwrap_or(crate::domain::page::DEFAULT_PAGE_SIZE as u32);
        if limit == 0 || u64::from(limit) > MAX_PAGE_SIZE {
            return Err(Error::bad_input("limit", format!("must be between 1 and {MAX_PAGE_SIZE} (got {limit})")));
        }
        let order = order.unwrap_or_default().event_order();
        let args = PageArgs { first: Some(limit as i32), after: cursor, ..Default::default() };
        let page = args.into_page(|text, _| Cursor::decode_event(text, order, "cursor"))?;
        Ok(EventsRequest { filter, order, page })
    }

    /// The domain filter alone (the page parameters are not read); `now` as
    /// for [`Self::into_request`].
    pub fn into_filter(self, now: DateTime<Utc>) -> Result<Filter> {
        let mut all = Vec::new();
        let strings = |values: Vec<String>, field: StrField, all: &mut Vec<Filter>| {
            if !values.is_empty() {
                all.push(Filter::Cond(Condition::Str(field, StrTest::In(values))));
            }
        };
        let any = |conditions: Vec<Condition>, all: &mut Vec<Filter>| match conditions.len() {
            0 => {}
            1 => all.extend(conditions.into_iter().map(Filter::Cond)),
            _ => all.push(Filter::Or(conditions.into_iter().map(Filter::Cond).collect())),
        };
        let some = |values: Vec<String>| (!values.is_empty()).then_some(values);

        strings(self.action, StrField::Action, &mut all);
        any(
            self.action_prefix.into_iter().map(|p| Condition::Str(StrField::Action, StrTest::Prefix(p))).collect(),
            &mut all,
        );
        strings(self.category, StrField::Category, &mut all);
        any(
            self.outcome
                .into_iter()
                .map(|o| {
                    Condition::Outcome(match o {
                        OutcomeParam::Success => Outcome::Success,
                        OutcomeParam::Failure => Outcome::Failure,
                    })
                })
                .collect(),
            &mut all,
        );
        let types = self
            .actor_type
            .iter()
            .enumerate()
            .map(|(i, t)| actor_type(t, &format!("actor_type.{i}")))
            .collect::<Result<Vec<_>>>()?;
        let actor = ActorMatch {
            ids: None,
            types: (!types.is_empty()).then_some(types),
            external_ids: some(self.actor_id),
            emails: some(self.actor_email),
        };
        if actor != ActorMatch::default() {
            all.push(Filter::Cond(Condition::Actor(actor)));
        }
        let resource =
            ResourceMatch { ids: None, types: some(self.resource_type), external_ids: some(self.resource_id) };
        if resource != ResourceMatch::default() {
            all.push(Filter::Cond(Condition::Resource(resource)));
        }
        let related = ResourceMatch { ids: None, types: some(self.related_type), external_ids: some(self.related_id) };
        if related != ResourceMatch::default() {
            all.push(Filter::Cond(Condition::RelatedTo(related)));
        }
        strings(self.environment, StrField::Environment, &mut all);
        strings(self.source_service, StrField::SourceService, &mut all);
        any(self.correlation_id.into_iter().map(Condition::CorrelationId).collect(), &mut all);
        any(self.request_id.into_iter().map(Condition::RequestId).collect(), &mut all);
        let ips = self
            .ip_address
            .into_iter()
            .enumerate()
            .map(|(i, ip)| check::ip_address(&format!("ip_address.{i}"), ip).map(Condition::IpAddress))
            .collect::<Result<Vec<_>>>()?;
        any(ips, &mut all);
        if self.status_min.is_some() || self.status_max.is_some() {
            all.push(Filter::Cond(Condition::HttpStatus { gte: self.status_min, lte: self.status_max }));
        }
        if self.from.is_some() || self.to.is_some() {
            let range = Range { gte: self.from, lt: self.to, ..Default::default() }.map(|at| at.timestamp_micros());
            all.push(Filter::Cond(Condition::Position(OrderField::OccurredAt, range)));
        }
        if let Some(after) = self.after_sequence {
            if after < 0 {
                return Err(Error::bad_input("after_sequence", "must not be negative"));
            }
            all.push(Filter::Cond(Condition::Position(
                OrderField::Sequence,
                Range { gt: Some(after), ..Default::default() },
            )));
        }

        if let Some(q) = self.q.as_deref() {
            all.push(crate::service::criteria::combine_at(None, "filter", Some(q), "q", now)?);
        }
        Ok(Filter::And(all))
    }
}

fn actor_type(value: &str, path: &str) -> Result<ActorType> {
    word(
        value,
        path,
        &[
            ("user", ActorType::User),
            ("api_key", ActorType::ApiKey),
            ("service_account", ActorType::ServiceAccount),
            ("internal_service", ActorType::InternalService),
            ("system", ActorType::System),
            ("anonymous", ActorType::Anonymous),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(raw: &str) -> Result<EventsRequest> {
        EventsQuery::parse(Some(raw))?.into_request(Utc::now())
    }

    fn path_of(raw: &str) -> String {
        match request(raw) {
            Err(Error::BadInput { path, .. }) => path,
            Err(Error::BadCursor(message)) => message.split(':').next().unwrap_or_default().to_string(),
            other => panic!("expected a refusal of {raw}, got {:?}", other.map(|r| r.filter)),
        }
    }

    #[test]
    fn repeated_parameters_are_alternatives() {
        let r = request("action=a&action=b&action_prefix=x.&action_prefix=y.").unwrap();
        let Filter::And(all) = r.filter else { panic!() };
        assert_eq!(all[0], Filter::Cond(Condition::Str(StrField::Action, StrTest::In(vec!["a".into(), "b".into()]))));
        assert!(matches!(&all[1], Filter::Or(items) if items.len() == 2));
    }

    #[test]
    fn defaults_and_orders() {
        let r = request("").unwrap();
        assert_eq!(r.filter, Filter::And(vec![]));
        assert_eq!(r.page.limit, 50);
        assert_eq!(r.order, Order::Newest.event_order());
        assert_eq!(request("order=sequence&limit=500").unwrap().order.field, OrderField::Sequence);
        let r = request("from=2024-01-01T00:00:00+00:00&to=2024-02-01T00:00:00Z").unwrap();
        assert!(
            matches!(&r.filter, Filter::And(c) if matches!(&c[0], Filter::Cond(Condition::Position(_, range)) if range.gte.is_some() && range.lt.is_some()))
        );
    }

    #[test]
    fn refusals_name_the_parameter() {
        assert_eq!(path_of("limit=0"), "limit");
        assert_eq!(path_of("limit=501"), "limit");
        assert_eq!(path_of("limit=many"), "limit");
        assert_eq!(path_of("order=sideways"), "order");
        assert_eq!(path_of("outcome=maybe"), "outcome");
        assert_eq!(path_of("actor_type=user&actor_type=robot"), "actor_type.1");
        assert_eq!(path_of("ip_address=nowhere"), "ip_address.0");
        assert_eq!(path_of("from=yesterday"), "from");
        assert_eq!(path_of("after_sequence=-1"), "after_sequence");
        assert_eq!(path_of("cursor=nonsense"), "cursor");
        assert_eq!(path_of("colour=red"), "colour");
        assert_eq!(path_of("limit=1&limit=2"), "limit");
        assert_eq!(path_of("action=a%00b"), "action.0");
    }
}
