//! `ComputeFigures`: the maintenance figures over a period and each of its series
//! buckets, from one read of the figures' columns of the orders that touch the period
//! (`store::orders_touching`: no document is decoded; kept until the next change by
//! `facts_cache.rs`) and the pure computation in `kpi.rs` (one pass for the whole
//! series, `kpi::series`). Reads only this module's tables.

use std::sync::Arc;

use actix::prelude::*;
use plantd_contracts::workorders::{ComputeFigures, FiguresReport};
use plantd_contracts::DomainError;

use crate::actor::WorkOrders;
use crate::facts_cache::FactsKey;
use crate::{kpi, store};

impl Handler<ComputeFigures> for WorkOrders {
    type Result = ResponseFuture<Result<FiguresReport, DomainError>>;

    fn handle(&mut self, msg: ComputeFigures, _: &mut Context<Self>) -> Self::Result {
        let _span = tracing::debug_span!("workorders.figures", series = msg.series.len()).entered();
        let db = self.db.clone();
        let crew = self.settings.crew_hours_per_week;
        let cache = self.facts.clone();
        Box::pin(async move {
            let period = &msg.period;
            let (from, to) = msg.series.iter().fold(
                (period.from.timestamp_millis(), period.to.timestamp_millis()),
                |(a, b), p| {
                    (
                        a.min(p.from.timestamp_millis()),
                        b.max(p.to.timestamp_millis()),
                    )
                },
            );
            if from >= to {
                return Err(DomainError::invalid("from", "must be before to"));
            }
            let key = FactsKey {
                from,
                to,
                assets: msg.assets.clone(),
            };
            let orders = match cache.get(&key) {
                Some(orders) => orders,
                None => {
                    let tag = cache.changes();
                    let assets = msg.assets.clone();
                    let orders = Arc::new(
                        db.run(move |conn| {
                            store::orders_touching(conn, from, to, assets.as_deref())
                        })
                        .await?,
                    );
                    cache.put(tag, key, orders.clone());
                    orders
                }
            };
            Ok(FiguresReport {
                total: kpi::compute(
                    &orders,
                    period.from.timestamp_millis(),
                    period.to.timestamp_millis(),
                    &period.operating,
                    crew,
                ),
                series: kpi::series(&orders, &msg.series, crew),
            })
        })
    }
}
