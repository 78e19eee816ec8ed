//! `--log-format json`: one JSON object per line, for log shippers (Loki,
//! journald's JSON readers, Elasticsearch):
//!
//! ```text
//! {"time":"2026-12-07T04:50:01.123456Z","level":"INFO","target":"sockit::net::gate",
//!  "message":"refused: denied by the access list","fields":{"door":"framed","peer":"10.6.6.6"}}
//! ```
//! (one line in the log). `fields` holds the event's own fields and those
//! of the spans it happened in (a connection's `door` and `peer`); the
//! event's win on a clash. Values keep their JSON type where tracing gives
//! one (numbers, booleans); everything else is its text.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The event formatter; pair it with [`JsonFields`] for span fields.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonLines;

/// Records span fields as a JSON object, so [`JsonLines`] can merge them.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonFields;

/// Collects fields into a JSON map.
#[derive(Default)]
struct Collect(Map<String, Value>);

impl Visit for Collect {
    fn record_f64(&mut self, f: &Field, v: f64) {
        let v = serde_json::Number::from_f64(v).map_or(Value::String(v.to_string()), Value::Number);
        self.0.insert(f.name().into(), v);
    }
    fn record_i64(&mut self, f: &Field, v: i64) {
        self.0.insert(f.name().into(), v.into());
    }
    fn record_u64(&mut self, f: &Field, v: u64) {
        self.0.insert(f.name().into(), v.into());
    }
    fn record_bool(&mut self, f: &Field, v: bool) {
        self.0.insert(f.name().into(), v.into());
    }
    fn record_str(&mut self, f: &Field, v: &str) {
        self.0.insert(f.name().into(), v.into());
    }
    fn record_error(&mut self, f: &Field, v: &(dyn std::error::Error + 'static)) {
        self.0.insert(f.name().into(), v.to_string().into());
    }
    fn record_debug(&mut self, f: &Field, v: &dyn fmt::Debug) {
        self.0.insert(f.name().into(), format!("{v:?}").into());
    }
}

impl<'w> FormatFields<'w> for JsonFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        mut w: Writer<'w>,
        fields: R,
    ) -> fmt::Result {
        let mut c = Collect::default();
        fields.record(&mut c);
        write!(w, "{}", Value::Object(c.0))
    }

    /// A field recorded after the span began (a connection's `client`,
    /// learnt from its PROXY header) joins the same object, instead of
    /// the default's second object after a space.
    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let mut c = match serde_json::from_str::<Value>(&current.fields) {
            Ok(Value::Object(m)) => Collect(m),
            _ => Collect::default(),
        };
        fields.record(&mut c);
        current.fields = Value::Object(c.0).to_string();
        Ok(())
    }
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Map::new();
        // Outermost span first, so inner spans and the event override.
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let ext = span.extensions();
                let Some(f) = ext.get::<FormattedFields<N>>() else {
                    continue;
                };
                if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(f) {
                    fields.extend(m);
                }
            }
        }
        let mut own = Collect::default();
        event.record(&mut own);
        fields.extend(own.0);
        let message = fields
            .remove("message")
            .unwrap_or(Value::String(String::new()));
        let meta = event.metadata();
        // Written key by key: a JSON map would sort the keys, and readers
        // of raw lines expect the time first and the fields last.
        let json = |v: &Value| v.to_string();
        writeln!(
            w,
            "{{\"time\":\"{}\",\"level\":\"{}\",\"target\":{},\"message\":{},\"fields\":{}}}",
            rfc3339_now(),
            meta.level().as_str(),
            json(&meta.target().into()),
            json(&message),
            json(&Value::Object(fields))
        )
    }
}

/// Now in UTC, to the microsecond: `2026-12-07T04:50:01.123456Z`.
fn rfc3339_now() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs(), d.subsec_micros())
}

/// `secs` since the epoch and `micros` as RFC 3339 UTC.
fn rfc3339(secs: u64, micros: u32) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_known_instants() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000Z");
        // `date -u -d @1796618161`
        assert_eq!(rfc3339(1_796_618_161, 42), "2026-12-07T04:36:01.000042Z");
        assert_eq!(rfc3339(951_782_400, 0), "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn an_event_in_a_span_is_one_json_line() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let sub = tracing_subscriber::fmt()
            .event_format(JsonLines)
            .fmt_fields(JsonFields)
            .with_writer(move || out.clone())
            .finish();
        tracing::subscriber::with_default(sub, || {
            let span = tracing::info_span!(
                "conn",
                door = "framed",
                peer = "10.0.0.1:5",
                client = tracing::field::Empty
            );
            span.record("client", "192.0.2.7:9");
            let _in = span.enter();
            tracing::warn!(quiet = 3u64, ok = true, "refused: \"quoted\"\nnext");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.starts_with("{\"time\":\""), "time first: {text}");
        let v: Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["message"], "refused: \"quoted\"\nnext");
        assert_eq!(v["fields"]["door"], "framed");
        assert_eq!(v["fields"]["client"], "192.0.2.7:9", "recorded later");
        assert_eq!(v["fields"]["quiet"], 3);
        assert_eq!(v["fields"]["ok"], true);
        assert!(v["target"].as_str().unwrap().starts_with("sockit"));
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
    }
}
