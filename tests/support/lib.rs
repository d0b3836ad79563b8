//! Helpers shared by the end-to-end and interoperability tests.
