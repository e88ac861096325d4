//! Database and cache calls as client spans: PostgreSQL through sqlx ([`sqlx`], feature
//! `sqlx`) and Redis through the redis crate ([`redis`], feature `redis`).
//!
//! Wrap the pool or connection once; every query or command then records a `Client` span
//! under the current span (a `#[traced]` operation), named after the OpenTelemetry database
//! conventions (`SELECT wallets`, `GET`), and a point in the `db.client.operation.duration`
//! histogram. Values never reach a span: SQL literals and every Redis argument are recorded
//! as `?`, and the values bound to a query are not read at all.
mod call;
#[cfg(feature = "sqlx")]
mod generated;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "redis")]
mod redis_command;
#[cfg(feature = "sqlx")]
mod sql;
#[cfg(feature = "sqlx")]
pub mod sqlx;
