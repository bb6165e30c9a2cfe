//! Relay connections: edges, nodes, page info and a `totalCount` that costs a
//! query only when it is selected (its resolver runs only then).

use async_graphql::SimpleObject;

/// Where a page is in its list.
#[derive(SimpleObject, Clone, Debug)]
pub struct PageInfo {
    /// More items follow `endCursor` (exact when paging forward; when paging
    /// backward, true if `before` was given).
    pub has_next_page: bool,
    /// More items precede `startCursor` (exact when paging backward; when paging
    /// forward, true if `after` was given).
    pub has_previous_page: bool,
    /// The cursor of the first item.
    pub start_cursor: Option<String>,
    /// The cursor of the last item.
    pub end_cursor: Option<String>,
}

/// Defines a connection type and its edge type for a node type.
macro_rules! connection {
    ($connection:ident, $edge:ident, $node:ty, $what:literal) => {
        #[doc = concat!("An edge to one ", $what, ".")]
        pub struct $edge {
            pub cursor: String,
            pub node: $node,
        }

        #[doc = concat!("An edge to one ", $what, ".")]
        #[async_graphql::Object]
        impl $edge {
            /// Pass as `after` or `before` to page from this item.
            async fn cursor(&self) -> &str {
                &self.cursor
            }

            #[doc = concat!("The ", $what, ".")]
            async fn node(&self) -> &$node {
                &self.node
            }
        }

        #[doc = concat!("A page of ", $what, "s (Relay cursor connection).")]
        pub struct $connection {
            pub edges: Vec<$edge>,
            pub page_info: $crate::graphql::connection::PageInfo,
            pub count: $crate::service::reads::Counted,
        }

        impl $connection {
            /// The connection over a fetched page; `count` answers `totalCount`.
            pub fn from_page<T>(
                page: $crate::domain::page::PageResult<T>,
                cursor: impl Fn(&T) -> String,
                node: impl Fn(T) -> $node,
                count: $crate::service::reads::Counted,
            ) -> Self {
                let (edges, page_info) = $crate::graphql::connection::assemble(page, cursor, node);
                let edges = edges.into_iter().map(|(cursor, node)| $edge { cursor, node }).collect();
                Self { edges, page_info, count }
            }
        }

        #[doc = concat!("A page of ", $what, "s (Relay cursor connection).")]
        #[async_graphql::Object]
        impl $connection {
            /// The items of the page with their cursors.
            async fn edges(&self) -> &[$edge] {
                &self.edges
            }

            /// The items of the page.
            async fn nodes(&self) -> Vec<&$node> {
                self.edges.iter().map(|e| &e.node).collect()
            }

            /// Where this page is in the list.
            async fn page_info(&self) -> &$crate::graphql::connection::PageInfo {
                &self.page_info
            }

            /// How many items match in all, whatever the page (one extra query, run only when selected).
            #[graphql(complexity = "crate::graphql::complexity::count_cost()")]
            async fn total_count(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<i32> {
                use $crate::graphql::context::ContextExt as _;
                let n = $crate::service::reads::count(ctx.session(), &self.count).await?;
                Ok(i32::try_from(n).unwrap_or(i32::MAX))
            }
        }
    };
}

pub(crate) use connection;

/// Builds the edges and page info of a fetched page.
pub fn assemble<T, N>(
    page: crate::domain::page::PageResult<T>,
    cursor: impl Fn(&T) -> String,
    node: impl Fn(T) -> N,
) -> (Vec<(String, N)>, PageInfo) {
    let edges: Vec<(String, N)> = page.items.into_iter().map(|row| (cursor(&row), node(row))).collect();
    let info = PageInfo {
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
        start_cursor: edges.first().map(|(c, _)| c.clone()),
        end_cursor: edges.last().map(|(c, _)| c.clone()),
    };
    (edges, info)
}
