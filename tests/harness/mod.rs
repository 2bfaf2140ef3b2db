//! Tests of the test harness itself (tests/common): none starts Folio.

mod helpers;
