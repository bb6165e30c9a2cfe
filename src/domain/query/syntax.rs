//! The grammar of a query string, parsed with `winnow` into a tree whose
//! terms keep their positions (byte offsets into the query):
//!
//! ```text
//! query   = or EOF
//! or      = and ("OR" and)*
//! and     = unary (["AND"] unary)*
//! unary   = "NOT" unary | "-" unary | "(" or ")" | term
//! term    = [field ":" [op]] value
//! value   = '"' (char | '\"' | '\\')* '"' | bare
//! ```
//!
//! `AND`, `OR` and `NOT` are keywords only in capitals and as whole words.

use winnow::combinator::{alt, cut_err, delimited, eof, opt, peek, preceded, repeat, terminated};
use winnow::error::{AddContext, ContextError, ErrMode, ModalResult, StrContext, StrContextValue};
use winnow::prelude::*;
use winnow::stream::{LocatingSlice, Stateful};
use winnow::token::{none_of, one_of, take_while};

/// Nesting of parentheses and negations a query may have: far more than a
/// filter allows (5 levels), far less than would strain the stack.
const MAX_NESTING: usize = 32;

type Input<'a> = Stateful<LocatingSlice<&'a str>, usize>;

/// A comparison after a field's colon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Gt,
    Gte,
    Lt,
    Lte,
}

/// One term: `field:op value`, or a bare word or phrase.
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    /// The field and its offset.
    pub field: Option<(String, usize)>,
    pub op: Option<Op>,
    pub value: String,
    /// A quoted value is taken literally (no trailing `*`, never a number).
    pub quoted: bool,
    /// The offset of the value (of its quote, if quoted).
    pub at: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Term(Term),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
}

/// A syntax error at a byte offset.
#[derive(Debug, PartialEq)]
pub struct SyntaxError {
    pub offset: usize,
    pub message: String,
}

/// Parses a whole query.
pub fn parse(query: &str) -> Result<Node, SyntaxError> {
    let input = Stateful { input: LocatingSlice::new(query), state: 0 };
    delimited(space, or, (space, eof)).parse(input).map_err(|e| SyntaxError {
        offset: e.offset(),
        message: describe(e.inner(), query[e.offset()..].chars().next()),
    })
}

fn describe(e: &ContextError, next: Option<char>) -> String {
    let found = match next {
        Some(c) => format!("`{c}`"),
        None => "the end of the query".to_string(),
    };
    match e.context().find_map(|c| match c {
        StrContext::Label(l) => Some(*l),
        _ => None,
    }) {
        Some(label) => format!("{label}, found {found}"),
        None => {
            let expected: Vec<String> = e
                .context()
                .filter_map(|c| match c {
                    StrContext::Expected(StrContextValue::CharLiteral(c)) => Some(format!("`{c}`")),
                    StrContext::Expected(StrContextValue::StringLiteral(s)) => Some(format!("`{s}`")),
                    StrContext::Expected(StrContextValue::Description(d)) => Some(d.to_string()),
                    _ => None,
                })
                .collect();
            match expected.is_empty() {
                true => format!("unexpected {found}"),
                false => format!("expected {}, found {found}", expected.join(" or ")),
            }
        }
    }
}

fn space(i: &mut Input) -> ModalResult<()> {
    take_while(0.., char::is_whitespace).void().parse_next(i)
}

/// A character that ends a bare value or word.
fn ends_bare(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"')
}

/// A keyword: the capitals, as a whole word.
fn keyword<'a>(word: &'static str) -> impl Parser<Input<'a>, (), ErrMode<ContextError>> {
    terminated(word, peek(alt((one_of(|c: char| ends_bare(c)).void(), eof.void())))).void()
}

/// Runs `inner` one level deeper, refusing nesting past [`MAX_NESTING`].
fn nested<'a, O>(i: &mut Input<'a>, inner: impl FnOnce(&mut Input<'a>) -> ModalResult<O>) -> ModalResult<O> {
    if i.state >= MAX_NESTING {
        return Err(ErrMode::Cut(ContextError::new().add_context(
            i,
            &i.checkpoint(),
            StrContext::Label("parentheses and negations nest too deep"),
        )));
    }
    i.state += 1;
    let out = inner(i);
    i.state -= 1;
    out
}

fn or(i: &mut Input) -> ModalResult<Node> {
    let first = and(i)?;
    let rest: Vec<Node> =
        repeat(0.., preceded((space, keyword("OR"), space), cut_err(and).context(expected()))).parse_next(i)?;
    Ok(if rest.is_empty() { first } else { Node::Or(std::iter::once(first).chain(rest).collect()) })
}

fn and(i: &mut Input) -> ModalResult<Node> {
    let first = unary(i)?;
    let rest: Vec<Node> = repeat(
        0..,
        preceded(space, alt((preceded((keyword("AND"), space), cut_err(unary).context(expected())), unary))),
    )
    .parse_next(i)?;
    Ok(if rest.is_empty() { first } else { Node::And(std::iter::once(first).chain(rest).collect()) })
}

fn expected() -> StrContext {
    StrContext::Label("expected a term, `-`, `NOT` or `(`")
}

fn unary(i: &mut Input) -> ModalResult<Node> {
    nested(i, |i| {
        alt((
            preceded((keyword("NOT"), space), cut_err(unary).context(expected())).map(|n| Node::Not(Box::new(n))),
            preceded('-', cut_err(unary).context(expected())).map(|n| Node::Not(Box::new(n))),
            delimited(
                ('(', space),
                cut_err(or).context(expected()),
                cut_err((space, ')')).context(StrContext::Label("expected `)` or another term")),
            ),
            term.map(Node::Term),
        ))
        .parse_next(i)
    })
}

fn field(i: &mut Input) -> ModalResult<(String, usize)> {
    terminated(
        take_while(1.., |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '$' | '@' | '-')).with_span(),
        ':',
    )
    .map(|(name, span): (&str, std::ops::Range<usize>)| (name.to_string(), span.start))
    .parse_next(i)
}

fn op(i: &mut Input) -> ModalResult<Op> {
    alt((">=".value(Op::Gte), "<=".value(Op::Lte), ">".value(Op::Gt), "<".value(Op::Lt))).parse_next(i)
}

fn quoted(i: &mut Input) -> ModalResult<String> {
    let char_or_escape = alt((
        none_of(['"', '\\']),
        preceded('\\', cut_err(one_of(['"', '\\'])).context(StrContext::Label("only `\\\"` and `\\\\` are escapes"))),
    ));
    delimited('"', repeat(0.., char_or_escape), cut_err('"').context(StrContext::Label("expected the closing `\"`")))
        .parse_next(i)
}

fn bare<'a>(i: &mut Input<'a>) -> ModalResult<&'a str> {
    take_while(1.., |c: char| !ends_bare(c)).parse_next(i)
}

fn value(i: &mut Input) -> ModalResult<(String, bool, usize)> {
    alt((
        quoted.with_span().map(|(v, s)| (v, true, s.start)),
        bare.with_span().map(|(v, s): (&str, _)| (v.to_string(), false, s.start)),
    ))
    .parse_next(i)
}

fn term(i: &mut Input) -> ModalResult<Term> {
    if let Some(field) = opt(field).parse_next(i)? {
        let op = opt(op).parse_next(i)?;
        let (value, quoted, at) =
            cut_err(value).context(StrContext::Label("expected a value after the field")).parse_next(i)?;
        return Ok(Term { field: Some(field), op, value, quoted, at });
    }
    let start = i.checkpoint();
    let (value, quoted, at) = value.parse_next(i)?;
    if !quoted && matches!(value.as_str(), "AND" | "OR" | "NOT") {
        // A keyword where a term belongs: let the caller decide.
        i.reset(&start);
        return Err(ErrMode::Backtrack(ContextError::new()));
    }
    Ok(Term { field: None, op: None, value, quoted, at })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(v: &str, at: usize) -> Node {
        Node::Term(Term { field: None, op: None, value: v.into(), quoted: false, at })
    }

    #[test]
    fn precedence_and_grouping() {
        assert_eq!(
            parse("a b OR c").unwrap(),
            Node::Or(vec![Node::And(vec![word("a", 0), word("b", 2)]), word("c", 7)])
        );
        assert_eq!(parse("-(a AND b)").unwrap(), Node::Not(Box::new(Node::And(vec![word("a", 2), word("b", 8)]))));
        assert_eq!(parse("ANDROID or").unwrap(), Node::And(vec![word("ANDROID", 0), word("or", 8)]));
        let Node::Term(t) = parse(r#"metadata.x:>="a \"b\"""#).unwrap() else { panic!() };
        assert_eq!(
            (t.field, t.op, t.value.as_str(), t.quoted, t.at),
            (Some(("metadata.x".into(), 0)), Some(Op::Gte), "a \"b\"", true, 13)
        );
    }

    #[test]
    fn errors_point_where_it_went_wrong() {
        for (q, offset) in
            [("(a b", 4), ("a )", 2), ("a OR", 4), ("x: y", 2), ("\"open", 5), ("NOT", 3), ("a AND OR b", 6)]
        {
            assert_eq!(parse(q).unwrap_err().offset, offset, "{q}: {:?}", parse(q));
        }
        assert!(parse(&"(".repeat(40)).is_err());
        assert!(parse(&"-".repeat(4000)).is_err());
    }
}
