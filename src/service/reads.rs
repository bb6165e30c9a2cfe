//! Reading the log: event pages, counts, events by ID, and the actors and
//! resources they name. Every read is authorized, confined to what a viewer
//! token may see, and sent to the session's reader (a replica or the primary).

use uuid::Uuid;

use crate::domain::actor::Actor;
use crate::domain::cursor::{EventOrder, SortKey};
use crate::domain::filter::{ActorMatch, Condition, Filter, ResourceMatch};
use crate::domain::ids::{ActorId, EventId, ResourceId};
use crate::domain::page::{Page, PageResult};
use crate::domain::resource::Resource;
use crate::domain::selection::{Detail, Joined, Joins};
use crate::domain::stored_event::StoredEvent;
use crate::error::Result;
use crate::store::{actors, events, ledger, resources};

use super::policy::Operation;
use super::session::Session;

/// Whose events a list shows, within the caller's tenant.
#[derive(Clone, Copy, Debug)]
pub enum Owner {
    /// Every event of the tenant.
    Tenant,
    /// The events an actor performed.
    Actor(ActorId),
    /// The events where a resource is the primary or a related resource.
    Resource(ResourceId),
}

impl Owner {
    fn filter(self) -> Option<Filter> {
        match self {
            Owner::Tenant => None,
            Owner::Actor(id) => {
                Some(Filter::Cond(Condition::Actor(ActorMatch { ids: Some(vec![id]), ..Default::default() })))
            }
            Owner::Resource(id) => {
                Some(Filter::Cond(Condition::RelatedTo(ResourceMatch { ids: Some(vec![id]), ..Default::default() })))
            }
        }
    }
}

/// One page of events, as a door asks for it.
pub struct EventsQuery {
    pub owner: Owner,
    pub filter: Filter,
    pub order: EventOrder,
    pub page: Page<(SortKey, Uuid)>,
    /// The wide columns the door will show.
    pub detail: Detail,
    /// The rows to fetch with each event.
    pub joins: Joins,
}

/// What `totalCount` of a list counts, fixed when the list was read (the
/// filter already confined): run only if asked.
pub struct Counted(Count);

enum Count {
    Events(Filter),
    Actors(ActorMatch),
    Resources(ResourceMatch),
    Checkpoints,
}

impl Counted {
    /// The tenant's persisted checkpoints.
    pub fn checkpoints() -> Counted {
        Counted(Count::Checkpoints)
    }
}

/// A page of events with the rows joined to them, and its count.
pub struct EventPage {
    pub page: PageResult<Joined>,
    pub count: Counted,
}

/// A page of the caller's events matching the query.
pub async fn events_page(session: &Session, query: EventsQuery) -> Result<EventPage> {
    let requester = session.authorize(Operation::ReadEvents)?;
    let filter = match query.owner.filter() {
        Some(owned) => owned.and(query.filter),
        None => query.filter,
    };
    let filter = Session::confine(requester, filter);
    let page = events::page_joined(
        session.reader(),
        requester.tenant,
        &filter,
        query.order,
        &query.page,
        query.detail,
        query.joins,
    )
    .await?;
    Ok(EventPage { page, count: Counted(Count::Events(filter)) })
}

/// How many items a list counted by `counted` holds in all.
pub async fn count(session: &Session, counted: &Counted) -> Result<i64> {
    let tenant = session.authorize(Operation::ReadEvents)?.tenant;
    let reader = session.reader();
    match &counted.0 {
        Count::Events(filter) => events::count(reader, tenant, filter).await,
        Count::Actors(m) => actors::count(reader, tenant, m).await,
        Count::Resources(m) => resources::count(reader, tenant, m).await,
        // The ledger is read on the primary: checkpoints are written there.
        Count::Checkpoints => ledger::count_checkpoints(session.services().store.db(), tenant).await,
    }
}

/// The caller's events with these IDs that it may see, in recording order.
pub async fn events_by_ids(session: &Session, ids: &[EventId]) -> Result<Vec<StoredEvent>> {
    let requester = session.authorize(Operation::ReadEvents)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    match requester.viewer {
        None => events::by_ids(session.reader(), requester.tenant, ids).await,
        Some(_) => {
            let filter = Session::confine(requester, Filter::Cond(Condition::Ids(ids.to_vec())));
            events::matching_in_order(session.reader(), requester.tenant, &filter).await
        }
    }
}

/// One event of the caller's that it may see.
pub async fn event(session: &Session, id: EventId) -> Result<Option<StoredEvent>> {
    Ok(events_by_ids(session, &[id]).await?.pop())
}

/// The actors with these IDs in the caller's tenant (the actors of events it
/// read: a loader's batch).
pub async fn actors(session: &Session, ids: &[ActorId]) -> Result<Vec<Actor>> {
    let tenant = session.authorize(Operation::ReadEvents)?.tenant;
    actors::by_ids(session.reader(), tenant, ids).await
}

/// The resources with these IDs in the caller's tenant.
pub async fn resources(session: &Session, ids: &[ResourceId]) -> Result<Vec<Resource>> {
    let tenant = session.authorize(Operation::ReadEvents)?.tenant;
    resources::by_ids(session.reader(), tenant, ids).await
}

/// The resources these events name: `(event, position, resource)`, position
/// 0 being the primary resource and 1… the related ones in order.
pub async fn event_resources(session: &Session, events: &[EventId]) -> Result<Vec<(EventId, i16, Resource)>> {
    let tenant = session.authorize(Operation::ReadEvents)?.tenant;
    let links = resources::for_events(session.reader(), tenant, events).await?;
    Ok(links.into_iter().map(|link| (EventId(link.event_id), link.position, link.into_record())).collect())
}

/// A page of the caller's tenant's actors matching `m`, in creation order.
pub async fn actors_page(session: &Session, m: ActorMatch, page: &Page<Uuid>) -> Result<(PageResult<Actor>, Counted)> {
    let tenant = session.authorize(Operation::ListIdentities)?.tenant;
    let rows = actors::page(session.reader(), tenant, &m, page).await?;
    Ok((rows, Counted(Count::Actors(m))))
}

/// A page of the caller's tenant's resources matching `m`, in creation order.
pub async fn resources_page(
    session: &Session,
    m: ResourceMatch,
    page: &Page<Uuid>,
) -> Result<(PageResult<Resource>, Counted)> {
    let tenant = session.authorize(Operation::ListIdentities)?.tenant;
    let rows = resources::page(session.reader(), tenant, &m, page).await?;
    Ok((rows, Counted(Count::Resources(m))))
}

/// Whether the caller sees an event meeting `involved`: always with an API
/// key; with a viewer token, an actor or resource exists only through the
/// events of its filter (one indexed look-up of at most one row).
pub(super) async fn sees_any(session: &Session, involved: Condition) -> Result<bool> {
    let requester = session.authorize(Operation::ReadEvents)?;
    if requester.viewer.is_none() {
        return Ok(true);
    }
    let filter = Session::confine(requester, Filter::Cond(involved));
    let page = Page { limit: 1, backward: false, after: None, before: None };
    let rows =
        events::page(session.reader(), requester.tenant, &filter, Default::default(), &page, Detail::NONE).await?;
    Ok(!rows.items.is_empty())
}
