//! The settings on the command line: `--config` and one flag per declared setting, each
//! with its environment variable (clap reads both; a flag hides its variable), grouped
//! under "Settings" in `--help`. Only the commands that run the server or open its
//! database take them. Built from `SETTINGS`, so `--help` says what the table declares.

use std::path::PathBuf;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};

use super::{Given, Setting, Source, SETTINGS};

const HEADING: &str = "Settings";
const CONFIG: &str = "config";

/// What the command line and the environment gave: the config file and setting values.
#[derive(Debug, Clone, Default)]
pub struct ServerArgs {
    config: Option<Given>,
    values: Vec<Given>,
}

impl ServerArgs {
    /// `--config FILE` or `$PLANTD_CONFIG`.
    pub fn config_file(&self) -> Option<PathBuf> {
        self.config
            .as_ref()
            .map(|given| PathBuf::from(&given.value))
    }

    pub fn values(&self) -> &[Given] {
        &self.values
    }

    /// A subcommand's values (`self`) over the top level's (`plantd --log debug migrate`
    /// and `plantd migrate --log debug` both work): a flag wins over a variable; between
    /// two of a kind, the subcommand's.
    pub fn over(self, top: ServerArgs) -> ServerArgs {
        let config = match (self.config, top.config) {
            (Some(sub), Some(top)) => Some(if rank(&top) > rank(&sub) { top } else { sub }),
            (sub, top) => sub.or(top),
        };
        let mut values = top.values;
        for sub in self.values {
            match values.iter_mut().find(|v| v.key == sub.key) {
                Some(top) if rank(top) > rank(&sub) => {}
                Some(top) => *top = sub,
                None => values.push(sub),
            }
        }
        ServerArgs { config, values }
    }
}

fn rank(given: &Given) -> u8 {
    match given.from {
        Source::Flag => 2,
        _ => 1,
    }
}

impl Args for ServerArgs {
    fn augment_args(cmd: Command) -> Command {
        let config = Arg::new(CONFIG)
            .long(CONFIG)
            .value_name("FILE")
            .env("PLANTD_CONFIG")
            .hide_env_values(true)
            .action(ArgAction::Set)
            .help_heading(HEADING)
            .help("a plantd.toml to read [default: ./plantd.toml when present]");
        SETTINGS
            .iter()
            .fold(cmd.arg(config), |cmd, setting| cmd.arg(flag(setting)))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

fn flag(setting: &Setting) -> Arg {
    Arg::new(setting.key)
        .long(setting.long())
        .value_name(setting.key.to_uppercase())
        .env(setting.env_var())
        // Secrets (admin_token, admin_password) must not show in --help.
        .hide_env_values(true)
        .action(ArgAction::Set)
        .help_heading(HEADING)
        .help(format!(
            "{} [default: {}]",
            plain(setting.doc),
            plain(&setting.shown_default())
        ))
}

/// A doc line without its Markdown marks, for the terminal.
fn plain(markdown: &str) -> String {
    markdown.replace(['`', '*'], "")
}

impl FromArgMatches for ServerArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let config = given(matches, CONFIG)?;
        let values = SETTINGS
            .iter()
            .filter_map(|setting| given(matches, setting.key).transpose())
            .collect::<Result<_, _>>()?;
        Ok(ServerArgs { config, values })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

/// The value of `key` if a flag or a variable gave one.
fn given(matches: &ArgMatches, key: &'static str) -> Result<Option<Given>, clap::Error> {
    let from = match matches.value_source(key) {
        Some(ValueSource::CommandLine) => Source::Flag,
        Some(ValueSource::EnvVariable) => Source::Env,
        _ => return Ok(None),
    };
    let value = matches
        .try_get_one::<String>(key)
        .map_err(|e| clap::Error::raw(ErrorKind::InvalidValue, e))?;
    Ok(value.map(|value| Given {
        key,
        value: value.clone(),
        from,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(
        config: Option<(&str, Source<'static>)>,
        values: &[(&'static str, &str, Source<'static>)],
    ) -> ServerArgs {
        let given = |key, value: &str, from| Given {
            key,
            value: value.to_owned(),
            from,
        };
        ServerArgs {
            config: config.map(|(value, from)| given(CONFIG, value, from)),
            values: values
                .iter()
                .map(|&(k, v, from)| given(k, v, from))
                .collect(),
        }
    }

    #[test]
    fn a_flag_beats_a_variable_and_the_subcommand_beats_the_top_level() {
        let top = args(
            Some(("top.toml", Source::Flag)),
            &[
                ("log", "debug", Source::Flag),
                ("http_addr", "1.1.1.1:1", Source::Flag),
                ("mqtt_addr", "1.1.1.1:2", Source::Env),
            ],
        );
        let sub = args(
            Some(("env.toml", Source::Env)),
            &[
                ("log", "warn", Source::Env),
                ("http_addr", "2.2.2.2:1", Source::Flag),
                ("mqtt_addr", "1.1.1.1:2", Source::Env),
                ("db_pool_size", "3", Source::Flag),
            ],
        );
        let merged = sub.over(top);
        assert_eq!(merged.config_file(), Some(PathBuf::from("top.toml")));
        let value = |key| {
            let found: Vec<&Given> = merged.values().iter().filter(|g| g.key == key).collect();
            assert_eq!(found.len(), 1, "{key} once");
            found[0].value.clone()
        };
        assert_eq!(value("log"), "debug", "a top-level flag beats the variable");
        assert_eq!(
            value("http_addr"),
            "2.2.2.2:1",
            "the subcommand's flag wins"
        );
        assert_eq!(value("mqtt_addr"), "1.1.1.1:2");
        assert_eq!(value("db_pool_size"), "3");
    }

    #[test]
    fn every_declared_setting_is_a_flag() {
        let cmd = ServerArgs::augment_args(Command::new("plantd"));
        let matches = cmd
            .try_get_matches_from(["plantd", "--telemetry-retention-hour-days", "7"])
            .expect("parse");
        let parsed = ServerArgs::from_arg_matches(&matches).expect("matches");
        let given = parsed
            .values()
            .iter()
            .find(|g| g.key == "telemetry_retention_hour_days")
            .expect("given");
        assert_eq!(given.value, "7");
        assert!(matches!(given.from, Source::Flag));
        let cmd = ServerArgs::augment_args(Command::new("plantd"));
        for setting in SETTINGS {
            let long = setting.long();
            assert!(
                cmd.get_arguments()
                    .any(|a| a.get_long() == Some(long.as_str())),
                "--{long}"
            );
        }
    }
}
