//! Print rules, colour on the pages, budgets.

mod documents;
mod quota;
mod rules;
