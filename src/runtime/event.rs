//! SCF events -> the options of one pass.
//!
//! Two shapes are accepted (docs/drills.md has the full schema):
//!
//! - a **timer** event, `{"Type":"Timer","TriggerName":..,"Time":..,"Message":..}`.
//!   It runs one pass (`run`). A non-empty `Message` (the trigger's argument)
//!   must be a JSON object with the manual schema below; it can change the
//!   action or set `dry_run`/`force`, e.g. `{"action":"plan"}`. A `Message`
//!   that is not such an object is an error rather than silently ignored: a
//!   typo in `{"dry_run":true}` must not turn into a real run.
//! - a **manual** event (console test, `tccli scf Invoke`, `sls invoke`):
//!   `{"action": "run"|"plan"|"probe"|"status"|"drill"|"failback"|"pause"|"resume", ...}`
//!   with the fields of the matching CLI command: `dry_run` (run, failback,
//!   pause, resume), `force` (run, plan, drill, failback), `fail` and
//!   `apply` (drill), `group` (failback, pause, resume), `region`
//!   (failback), `for` (a duration such as "2h") and `reason` (pause).
//!
//! Unknown fields, fields that do not apply to the action, unknown
//! actions and duplicate keys (serde_json would keep the last one, so
//! `{"dry_run":true,"dry_run":false}` would run for real) are errors: the
//! invocation answers with the error and changes nothing. This module only parses; checking names against the config is
//! `pipeline::check_options`.

use serde::de::DeserializeSeed;
use serde::Deserialize;

use crate::pipeline::{Action, RunOptions};

/// Where an event came from (for the logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Timer { trigger: String, time: String },
    Manual,
}

/// A parsed event: what to run, and why.
#[derive(Debug, Clone)]
pub struct Request {
    pub source: Source,
    pub options: RunOptions,
}

/// The timer event as SCF sends it. Unknown fields are tolerated here: the
/// platform may add some.
#[derive(Debug, Deserialize)]
struct TimerEvent {
    #[serde(rename = "TriggerName", default)]
    trigger_name: String,
    #[serde(rename = "Time", default)]
    time: String,
    #[serde(rename = "Message", default)]
    message: Option<serde_json::Value>,
}

/// The manual schema (and the timer `Message` schema). Every field is
/// optional at this level; [`Manual::into_options`] checks which ones the
/// action takes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manual {
    action: Option<String>,
    dry_run: Option<bool>,
    force: Option<bool>,
    fail: Option<Vec<String>>,
    apply: Option<bool>,
    group: Option<String>,
    region: Option<String>,
    #[serde(rename = "for")]
    for_: Option<String>,
    reason: Option<String>,
}

const ACTIONS: &str = "run, plan, probe, status, drill, failback, pause, resume";

/// Why a duplicate key is refused (the only data error of the strict reader).
const ONCE: &str = "each key may appear once, so that no option silently replaces another";

/// An event the function refuses, with a sentence for the operator (the
/// `errorMessage` of the `BadEvent` answer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadEvent(pub String);

/// Parse an event body.
pub fn parse(body: &[u8]) -> Result<Request, BadEvent> {
    parse_text(body).map_err(BadEvent)
}

fn parse_text(body: &[u8]) -> Result<Request, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = strict::Value(String::new())
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| {
            if e.is_data() {
                format!("the event is refused: {e}; {ONCE}")
            } else {
                format!(
                    "the event is not valid JSON ({e}); expected a timer event or {{\"action\": \"...\"}}"
                )
            }
        })?;
    let serde_json::Value::Object(map) = &value else {
        return Err(format!(
            "the event must be a JSON object, got {}; expected a timer event or {{\"action\": \"...\"}}",
            kind_of(&value)
        ));
    };
    match map.get("Type") {
        Some(serde_json::Value::String(t)) if t == "Timer" => {
            let ev: TimerEvent = serde_json::from_value(value.clone())
                .map_err(|e| format!("malformed timer event: {e}"))?;
            if matches!(&ev.message, Some(serde_json::Value::String(m)) if m == CONSOLE_TIMER_MESSAGE)
            {
                return Ok(Request {
                    source: Source::Timer {
                        trigger: ev.trigger_name,
                        time: ev.time,
                    },
                    options: console_test("the SCF console's timer test template"),
                });
            }
            let manual = timer_message(ev.message.as_ref())?;
            let options = manual.into_options(Some("run"))?;
            Ok(Request {
                source: Source::Timer {
                    trigger: ev.trigger_name,
                    time: ev.time,
                },
                options,
            })
        }
        Some(other) => Err(format!(
            "unsupported event Type {other}: this function handles timer events (\"Type\": \"Timer\") and manual events ({{\"action\": \"...\"}})"
        )),
        None if is_hello_world(map) => Ok(Request {
            source: Source::Manual,
            options: console_test("the SCF console's hello-world test template"),
        }),
        None => {
            let manual: Manual =
                serde_json::from_value(value).map_err(|e| format!("malformed event: {e}"))?;
            Ok(Request {
                source: Source::Manual,
                options: manual.into_options(None)?,
            })
        }
    }
}

/// The `Message` of the SCF console's timer test template
/// (`{"Type":"Timer","TriggerName":"EveryDay","Time":..,"Message":"user define msg body"}`).
pub const CONSOLE_TIMER_MESSAGE: &str = "user define msg body";

/// The SCF console's default ("Hello World") test event:
/// `{"key1":"test value 1","key2":"test value 2"}`, i.e. only `keyN` keys
/// with string values.
fn is_hello_world(map: &serde_json::Map<String, serde_json::Value>) -> bool {
    !map.is_empty()
        && map.iter().all(|(k, v)| {
            k.strip_prefix("key")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                && v.is_string()
        })
}

/// A console test event: a useful and safe answer, a plan (probes and
/// records read; nothing written, nothing sent), with a note saying why.
fn console_test(what: &str) -> RunOptions {
    RunOptions {
        notes: vec![format!(
            "{what} was answered with a plan (nothing written, no alert sent); send {{\"action\": \"run\"}} or another action (docs/drills.md) to do more"
        )],
        ..RunOptions::new(Action::Plan)
    }
}

/// The options carried in a timer's `Message`: absent, null or blank means
/// none; a JSON object (or a string holding one, which is how the trigger
/// argument arrives) is read with the manual schema.
fn timer_message(msg: Option<&serde_json::Value>) -> Result<Manual, String> {
    let parsed;
    let obj = match msg {
        None | Some(serde_json::Value::Null) => return Ok(Manual::default()),
        Some(serde_json::Value::String(s)) if s.trim().is_empty() => return Ok(Manual::default()),
        Some(serde_json::Value::String(s)) => {
            let mut de = serde_json::Deserializer::from_str(s);
            parsed = strict::Value("Message".into())
                .deserialize(&mut de)
                .and_then(|v| de.end().map(|()| v))
                .map_err(|e| {
                    if e.is_data() {
                        format!("the timer's Message is refused: {e}; {ONCE}")
                    } else {
                        format!("the timer's Message must be empty or a JSON object of options (e.g. {{\"action\":\"plan\"}}), got {s:?}: {e}")
                    }
                })?;
            &parsed
        }
        Some(v) => v,
    };
    if !obj.is_object() {
        return Err(format!(
            "the timer's Message must be empty or a JSON object of options, got {}",
            kind_of(obj)
        ));
    }
    serde_json::from_value(obj.clone()).map_err(|e| format!("timer Message: {e}"))
}

impl Manual {
    /// Check the fields against the action and build the options.
    /// `default_action` applies when `action` is absent (timer events).
    fn into_options(self, default_action: Option<&str>) -> Result<RunOptions, String> {
        let name = match (self.action.as_deref(), default_action) {
            (Some(a), _) => a.to_string(),
            (None, Some(d)) => d.to_string(),
            (None, None) => {
                return Err(format!(
                    "the event names no action: send {{\"action\": \"...\"}} with one of {ACTIONS}"
                ))
            }
        };
        // Which optional fields each action takes, as the CLI's flags.
        let allowed: &[&str] = match name.as_str() {
            "run" => &["dry_run", "force"],
            "plan" => &["force"],
            "probe" | "status" => &[],
            "drill" => &["fail", "apply", "force"],
            "failback" => &["group", "region", "dry_run", "force"],
            "pause" => &["group", "for", "reason", "dry_run"],
            "resume" => &["group", "dry_run"],
            other => {
                return Err(format!(
                    "unknown action {other:?}; expected one of {ACTIONS}"
                ))
            }
        };
        let present = [
            ("dry_run", self.dry_run.is_some()),
            ("force", self.force.is_some()),
            ("fail", self.fail.is_some()),
            ("apply", self.apply.is_some()),
            ("group", self.group.is_some()),
            ("region", self.region.is_some()),
            ("for", self.for_.is_some()),
            ("reason", self.reason.is_some()),
        ];
        for (field, set) in present {
            if set && !allowed.contains(&field) {
                let takes = if allowed.is_empty() {
                    "no options".to_string()
                } else {
                    allowed.join(", ")
                };
                return Err(format!(
                    "field {field:?} does not apply to action {name:?} (it takes {takes})"
                ));
            }
        }
        let action = match name.as_str() {
            "run" => Action::Run,
            "plan" => Action::Plan,
            "probe" => Action::Probe,
            "status" => Action::Status,
            "drill" => {
                let fail = self.fail.unwrap_or_default();
                if fail.is_empty() {
                    return Err(
                        "action \"drill\" needs \"fail\": a list of regions to treat as down, e.g. [\"ap-shanghai\"]".into(),
                    );
                }
                Action::Drill {
                    fail,
                    apply: self.apply.unwrap_or(false),
                }
            }
            "failback" => {
                let (Some(group), Some(region)) = (self.group, self.region) else {
                    return Err(
                        "action \"failback\" needs \"group\" and \"region\", e.g. {\"action\":\"failback\",\"group\":\"api\",\"region\":\"ap-shanghai\"}".into(),
                    );
                };
                Action::Failback { group, region }
            }
            "pause" => {
                let Some(group) = self.group else {
                    return Err(
                        "action \"pause\" needs \"group\", e.g. {\"action\":\"pause\",\"group\":\"api\",\"for\":\"2h\",\"reason\":\"maintenance\"}".into(),
                    );
                };
                let until_after = match self.for_ {
                    None => None,
                    Some(s) => Some(humantime::parse_duration(s.trim()).map_err(|e| {
                        format!("field \"for\": invalid duration {s:?} ({e}); expected e.g. \"2h\", \"30m\"")
                    })?),
                };
                Action::Pause {
                    group,
                    until_after,
                    reason: self.reason.unwrap_or_default(),
                }
            }
            "resume" => {
                let Some(group) = self.group else {
                    return Err(
                        "action \"resume\" needs \"group\", e.g. {\"action\":\"resume\",\"group\":\"api\"}".into(),
                    );
                };
                Action::Resume { group }
            }
            _ => unreachable!("checked above"),
        };
        Ok(RunOptions {
            dry_run: self.dry_run.unwrap_or(false),
            force: self.force.unwrap_or(false),
            ..RunOptions::new(action)
        })
    }
}

/// JSON read into a [`serde_json::Value`] with every object, at any depth,
/// checked for duplicate keys. serde_json keeps the last of two equal keys;
/// here the second one is an error naming it and where it is.
mod strict {
    use std::fmt;

    use serde::de::{DeserializeSeed, Deserializer, Error, MapAccess, SeqAccess, Visitor};
    use serde_json::Map;

    /// Reads one value; the string is its path in the event (`""` for the
    /// event itself, `Message`, `fail[0]`), for the message.
    pub struct Value(pub String);

    impl Value {
        fn child(&self, key: &str) -> Value {
            if self.0.is_empty() {
                Value(key.to_string())
            } else {
                Value(format!("{}.{key}", self.0))
            }
        }
    }

    impl<'de> DeserializeSeed<'de> for Value {
        type Value = serde_json::Value;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Value {
        type Value = serde_json::Value;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
            Ok(v.into())
        }
        fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
            Ok(v.into())
        }
        fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
            Ok(v.into())
        }
        fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
            Ok(v.into())
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(v.into())
        }
        fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
            Ok(v.into())
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(serde_json::Value::Null)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(serde_json::Value::Null)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(v) =
                seq.next_element_seed(Value(format!("{}[{}]", self.0, out.len())))?
            {
                out.push(v);
            }
            Ok(out.into())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Map::new();
            while let Some(key) = map.next_key::<String>()? {
                let child = self.child(&key);
                if out.contains_key(&key) {
                    return Err(A::Error::custom(format!("duplicate key {:?}", child.0)));
                }
                let v = map.next_value_seed(child)?;
                out.insert(key, v);
            }
            Ok(out.into())
        }
    }
}

fn kind_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> Request {
        parse(body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {e}"))
    }
    fn err(body: &str) -> String {
        match parse(body.as_bytes()) {
            Ok(r) => panic!("{body}: expected an error, got {:?}", r.options),
            Err(e) => e.0,
        }
    }

    #[test]
    fn a_timer_event_runs_one_pass() {
        let r = ok(
            r#"{"Type":"Timer","TriggerName":"every-minute","Time":"2019-02-21T11:49:00Z","Message":""}"#,
        );
        assert_eq!(r.options.action, Action::Run);
        assert!(!r.options.dry_run && !r.options.force);
        assert_eq!(
            r.source,
            Source::Timer {
                trigger: "every-minute".into(),
                time: "2019-02-21T11:49:00Z".into()
            }
        );
        // Message may be absent or null too.
        assert_eq!(ok(r#"{"Type":"Timer"}"#).options.action, Action::Run);
        assert_eq!(
            ok(r#"{"Type":"Timer","Message":null}"#).options.action,
            Action::Run
        );
    }

    #[test]
    fn a_timer_message_carries_options() {
        let r = ok(
            r#"{"Type":"Timer","TriggerName":"t","Time":"x","Message":"{\"action\":\"plan\"}"}"#,
        );
        assert_eq!(r.options.action, Action::Plan);
        let r = ok(r#"{"Type":"Timer","Message":"{\"dry_run\":true,\"force\":false}"}"#);
        assert_eq!(r.options.action, Action::Run);
        assert!(r.options.dry_run);
        // An object (not a string) is accepted as well.
        let r = ok(r#"{"Type":"Timer","Message":{"force":true}}"#);
        assert!(r.options.force);
    }

    #[test]
    fn a_timer_message_that_is_not_options_is_refused() {
        assert!(err(r#"{"Type":"Timer","Message":"user defined msg body"}"#)
            .contains("Message must be empty or a JSON object"));
        assert!(err(r#"{"Type":"Timer","Message":"{\"dryrun\":true}"}"#)
            .contains("unknown field `dryrun`"));
        assert!(err(r#"{"Type":"Timer","Message":"[1]"}"#).contains("an array"));
    }

    /// Issue 12: the SCF console's test templates got a BadEvent; they now
    /// get a plan (nothing written, nothing sent) with a note saying why.
    #[test]
    fn the_console_test_templates_get_a_plan_with_a_note() {
        for body in [
            r#"{"Type":"Timer","TriggerName":"EveryDay","Time":"2019-02-21T11:49:00Z","Message":"user define msg body"}"#,
            r#"{"key1":"test value 1","key2":"test value 2"}"#,
        ] {
            let r = ok(body);
            assert_eq!(r.options.action, Action::Plan, "{body}");
            assert!(!r.options.action.writes(r.options.dry_run));
            assert!(r.options.notes[0].contains("test template"), "{body}");
        }
        // Anything else without an action is still refused.
        assert!(err(r#"{"key1":"test value 1","action2":"x"}"#).contains("unknown field"));
        assert!(err(r#"{"key1":1}"#).contains("unknown field"));
    }

    #[test]
    fn manual_actions_map_to_pipeline_actions() {
        assert_eq!(ok(r#"{"action":"run"}"#).options.action, Action::Run);
        assert_eq!(ok(r#"{"action":"plan"}"#).options.action, Action::Plan);
        assert_eq!(ok(r#"{"action":"probe"}"#).options.action, Action::Probe);
        assert_eq!(ok(r#"{"action":"status"}"#).options.action, Action::Status);
        let r = ok(r#"{"action":"drill","fail":["ap-shanghai"],"apply":false}"#);
        assert_eq!(
            r.options.action,
            Action::Drill {
                fail: vec!["ap-shanghai".into()],
                apply: false
            }
        );
        assert_eq!(r.source, Source::Manual);
        let r = ok(
            r#"{"action":"failback","group":"api","region":"ap-shanghai","dry_run":true,"force":true}"#,
        );
        assert_eq!(
            r.options.action,
            Action::Failback {
                group: "api".into(),
                region: "ap-shanghai".into()
            }
        );
        assert!(r.options.dry_run && r.options.force);
    }

    #[test]
    fn the_shipped_pause_and_resume_events_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/events");
        for (f, name) in [("pause.json", "pause"), ("resume.json", "resume")] {
            let body = std::fs::read(dir.join(f)).unwrap();
            assert_eq!(parse(&body).unwrap().options.action.name(), name);
        }
    }

    #[test]
    fn pause_and_resume_are_event_actions() {
        assert_eq!(
            ok(r#"{"action":"pause","group":"api","for":"2h","reason":"gateway move"}"#)
                .options
                .action,
            Action::Pause {
                group: "api".into(),
                until_after: Some(std::time::Duration::from_secs(7200)),
                reason: "gateway move".into(),
            }
        );
        assert_eq!(
            ok(r#"{"action":"pause","group":"api"}"#).options.action,
            Action::Pause {
                group: "api".into(),
                until_after: None,
                reason: String::new(),
            }
        );
        let r = ok(r#"{"action":"resume","group":"api","dry_run":true}"#);
        assert_eq!(
            r.options.action,
            Action::Resume {
                group: "api".into()
            }
        );
        assert!(r.options.dry_run);
        assert!(err(r#"{"action":"pause"}"#).contains("needs \"group\""));
        assert!(
            err(r#"{"action":"pause","group":"api","for":"soon"}"#).contains("invalid duration")
        );
        assert!(err(r#"{"action":"resume","group":"api","for":"2h"}"#)
            .contains("field \"for\" does not apply to action \"resume\""));
        assert!(err(r#"{"action":"run","reason":"x"}"#).contains("does not apply"));
    }

    #[test]
    fn bad_events_are_explained() {
        assert!(err("not json").contains("not valid JSON"));
        assert!(err("[]").contains("must be a JSON object, got an array"));
        assert!(err("{}").contains("names no action"));
        assert!(err(r#"{"action":"explode"}"#).contains("unknown action \"explode\""));
        assert!(err(r#"{"action":"run","key1":"v"}"#).contains("unknown field `key1`"));
        assert!(err(r#"{"action":"probe","force":true}"#)
            .contains("field \"force\" does not apply to action \"probe\" (it takes no options)"));
        assert!(err(r#"{"action":"plan","dry_run":true}"#).contains("(it takes force)"));
        assert!(err(r#"{"action":"drill"}"#).contains("needs \"fail\""));
        assert!(err(r#"{"action":"drill","fail":[]}"#).contains("needs \"fail\""));
        assert!(err(r#"{"action":"failback","group":"api"}"#)
            .contains("needs \"group\" and \"region\""));
        assert!(err(r#"{"action":"run","dry_run":"yes"}"#).contains("malformed event"));
        assert!(err(r#"{"Type":"Cos"}"#).contains("unsupported event Type \"Cos\""));
    }

    /// Issue 10: serde_json keeps the last of two equal keys, so these ran.
    #[test]
    fn duplicate_keys_are_refused_at_every_level() {
        let e = err(r#"{"action":"drill","fail":["ap-shanghai"],"apply":false,"apply":true}"#);
        assert!(e.contains("duplicate key \"apply\""), "{e}");
        assert!(e.starts_with("the event is refused"), "{e}");
        let e = err(r#"{"action":"run","dry_run":true,"dry_run":false}"#);
        assert!(e.contains("duplicate key \"dry_run\""), "{e}");
        let e = err(r#"{"action":"run","action":"drill","fail":["x"]}"#);
        assert!(e.contains("duplicate key \"action\""), "{e}");
        // In a timer event, its Message (object or string) and nested values.
        let e = err(r#"{"Type":"Timer","Type":"Timer"}"#);
        assert!(e.contains("duplicate key \"Type\""), "{e}");
        let e = err(r#"{"Type":"Timer","Message":{"dry_run":true,"dry_run":false}}"#);
        assert!(e.contains("duplicate key \"Message.dry_run\""), "{e}");
        let e = err(r#"{"Type":"Timer","Message":"{\"dry_run\":true,\"dry_run\":false}"}"#);
        assert!(e.contains("duplicate key \"Message.dry_run\""), "{e}");
        assert!(e.starts_with("the timer's Message is refused"), "{e}");
        let e = err(r#"{"action":"drill","fail":[{"a":1,"a":2}]}"#);
        assert!(e.contains("duplicate key \"fail[0].a\""), "{e}");
        // The same key in two different objects is fine.
        let r = ok(r#"{"Type":"Timer","Message":{"force":true},"Extra":{"Message":1,"force":2}}"#);
        assert!(r.options.force);
        println!(
            "{}",
            err(r#"{"action":"run","dry_run":true,"dry_run":false}"#)
        );
    }
}
