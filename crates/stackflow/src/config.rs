//! Configuration: defaults, then a TOML file, then `STACKFLOW_*`
//! environment variables, then command-line flags — each overriding the
//! one before. Validated once at start-up.

use anyhow::{Context, bail};
use serde::Deserialize;
use stackflow_core::Refusal;
use stackflow_core::risk::RiskPolicy;
use std::net::SocketAddr;
use std::path::Path;

/// The default database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://stackflow.db";
/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The effective configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `sqlite://FILE` or `postgres://USER@HOST/DB`.
    pub database_url: String,
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Risk weights and thresholds: the `[risk]` section of the file
    /// (see `docs/risk.md`).
    pub risk: RiskPolicy,
    /// Where clients reach the service (`http(s)://HOST[:PORT][/PREFIX]`,
    /// no trailing `/`): the base of absolute links in exports such as the
    /// iCalendar schedule. Default `http://<listen>`.
    pub public_url: String,
}

/// The TOML file's shape; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    listen: Option<String>,
    #[serde(default)]
    risk: RiskPolicy,
    public_url: Option<String>,
}

/// Values given as flags (highest precedence).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--db`.
    pub database_url: Option<String>,
    /// `--listen`.
    pub listen: Option<String>,
}

impl Config {
    /// Loads the configuration from its sources. `env` is the process
    /// environment (passed in so tests need not mutate it).
    pub fn load(
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
        flags: &Overrides,
    ) -> anyhow::Result<Config> {
        let from_file = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("parsing {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let database_url = flags
            .database_url
            .clone()
            .or_else(|| env("STACKFLOW_DATABASE_URL"))
            .or(from_file.database_url)
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let listen = flags
            .listen
            .clone()
            .or_else(|| env("STACKFLOW_LISTEN"))
            .or(from_file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen: SocketAddr = listen
            .parse()
            .with_context(|| format!("listen address `{listen}` is not HOST:PORT"))?;
        let public_url = match env("STACKFLOW_PUBLIC_URL").or(from_file.public_url) {
            Some(url) => check_public_url(&url)?,
            None => format!("http://{listen}"),
        };
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres:")
            || database_url.starts_with("postgresql:"))
        {
            bail!("database URL must start with sqlite:// or postgres://");
        }
        let risk = from_file.risk;
        if let Err(Refusal::Invalid(errors)) = risk.validate() {
            let problems: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            bail!("invalid [risk] settings: {}", problems.join("; "));
        }
        Ok(Config {
            database_url,
            listen,
            risk,
            public_url,
        })
    }
}

/// An absolute `http` or `https` URL with a host, without a query,
/// fragment or trailing `/`.
fn check_public_url(url: &str) -> anyhow::Result<String> {
    let url = url.trim().trim_end_matches('/');
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match host {
        Some(rest)
            if !rest.is_empty() && !rest.starts_with('/') && !rest.contains(['?', '#', ' ']) =>
        {
            Ok(url.to_owned())
        }
        _ => bail!(
            "public URL `{url}` is not an absolute http(s) URL such as https://stackflow.example.com"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_environment_beats_file_beats_defaults() {
        let dir = std::env::temp_dir().join(format!("stackflow-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("stackflow.toml");
        std::fs::write(
            &file,
            "database_url = \"sqlite://from-file.db\"\nlisten = \"127.0.0.1:9000\"\n",
        )
        .unwrap();
        let no_env = |_: &str| None;
        let config = Config::load(Some(&file), &no_env, &Overrides::default()).unwrap();
        assert_eq!(config.database_url, "sqlite://from-file.db");
        assert_eq!(config.listen.port(), 9000);
        let env = |key: &str| (key == "STACKFLOW_LISTEN").then(|| "127.0.0.1:9100".to_owned());
        let config = Config::load(Some(&file), &env, &Overrides::default()).unwrap();
        assert_eq!(config.listen.port(), 9100);
        let flags = Overrides {
            listen: Some("127.0.0.1:9200".into()),
            database_url: None,
        };
        assert_eq!(
            Config::load(Some(&file), &env, &flags)
                .unwrap()
                .listen
                .port(),
            9200
        );
        let defaults = Config::load(None, &no_env, &Overrides::default()).unwrap();
        assert_eq!(defaults.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(defaults.public_url, "http://127.0.0.1:8080");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_risk_section_tunes_scoring_and_is_validated() {
        let dir = std::env::temp_dir().join(format!("stackflow-risk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("stackflow.toml");
        let no_env = |_: &str| None;
        std::fs::write(
            &file,
            "[risk.weights]\nchange_type = 5\nconflicts = 15\n\n[risk.thresholds]\nhigh = 55\n",
        )
        .unwrap();
        let config = Config::load(Some(&file), &no_env, &Overrides::default()).unwrap();
        assert_eq!(config.risk.weights.change_type, 5);
        assert_eq!(config.risk.weights.conflicts, 15);
        assert_eq!(
            config.risk.weights.change_window, 20,
            "unset keys keep defaults"
        );
        assert_eq!(config.risk.thresholds.high, 55);
        assert_eq!(config.risk.thresholds.moderate, 30);
        std::fs::write(&file, "[risk.weights]\nchange_type = 30\n").unwrap();
        let error = Config::load(Some(&file), &no_env, &Overrides::default()).unwrap_err();
        assert!(format!("{error:#}").contains("risk.weights"), "{error:#}");
        std::fs::write(&file, "[risk.weights]\nluck = 3\n").unwrap();
        assert!(Config::load(Some(&file), &no_env, &Overrides::default()).is_err());
        let defaults = Config::load(None, &no_env, &Overrides::default()).unwrap();
        assert_eq!(defaults.risk, RiskPolicy::default());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_values_are_refused_at_start_up() {
        let no_env = |_: &str| None;
        let bad_listen = Overrides {
            listen: Some("nowhere".into()),
            database_url: None,
        };
        assert!(Config::load(None, &no_env, &bad_listen).is_err());
        let bad_db = Overrides {
            database_url: Some("mysql://x".into()),
            listen: None,
        };
        assert!(Config::load(None, &no_env, &bad_db).is_err());
        for bad in [
            "stackflow.example.com",
            "ftp://x",
            "https://",
            "https://x/?a=b",
        ] {
            let env = |key: &str| (key == "STACKFLOW_PUBLIC_URL").then(|| bad.to_owned());
            assert!(
                Config::load(None, &env, &Overrides::default()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_public_url_comes_from_the_file_or_the_environment() {
        let dir = std::env::temp_dir().join(format!("stackflow-public-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("stackflow.toml");
        std::fs::write(&file, "public_url = \"https://file.example/stackflow/\"\n").unwrap();
        let no_env = |_: &str| None;
        let config = Config::load(Some(&file), &no_env, &Overrides::default()).unwrap();
        assert_eq!(config.public_url, "https://file.example/stackflow");
        let env =
            |key: &str| (key == "STACKFLOW_PUBLIC_URL").then(|| "https://env.example".to_owned());
        let config = Config::load(Some(&file), &env, &Overrides::default()).unwrap();
        assert_eq!(config.public_url, "https://env.example");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
