//! The API test suite of `stackflow-web`: one test binary that drives the
//! whole router in process, every test once on SQLite and once on
//! PostgreSQL (set `STACKFLOW_TEST_POSTGRES_URL`, e.g.
//! `postgres://postgres@127.0.0.1:5432/test`, to run the second).
//!
//! `support` is the harness, `fixtures` the seeded organisation and change
//! helpers; every other module checks one area of the API contract.

#[macro_use]
mod support;
mod fixtures;

mod audit;
mod auth;
mod cab;
mod calendar;
mod cmdb;
mod concurrency;
mod feeds;
mod impact;
mod import;
mod input;
mod jobs;
mod lifecycle;
mod openapi;
mod pagination;
mod people;
mod refusals;
mod risk;
mod schedule;
mod settings;
mod sla;
mod versions;
mod windows;
mod workflows;
