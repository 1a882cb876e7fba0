//! The CLI's AWS setup, checked before the first AWS call so that a wrong setup is one line
//! naming the fix: an unknown profile, no region, an endpoint that does not answer. The SDK's
//! own details are shown with `--verbose`.

use super::error::CliError;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use provider::aws::Aws;

/// How long the endpoint check waits for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The hint for the emulator's profiles, which live in the config file `make emulator` writes.
const EMULATOR_HINT: &str =
    "if it is one of the emulator's profiles, `source` the env file `make emulator` printed first";

/// Clients for `profile` (or `AWS_PROFILE`, or the default chain) and their region, once the
/// profile exists and a region is set (no network call: see `reachable`).
pub async fn connect(profile: Option<&str>) -> Result<(Aws, String), CliError> {
    let named = profile
        .map(str::to_string)
        .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()));
    if let Some(name) = &named {
        check_profile(name)?;
    }
    let aws = Aws::from_profile(profile).await;
    let region = aws.region().ok_or_else(|| match &named {
        Some(p) => {
            format!("AWS profile {p} has no region: add `region = ...` to it, or set AWS_REGION")
        }
        None => "no AWS region: set AWS_REGION, or use a profile with a region (AWS_PROFILE=NAME)"
            .to_string(),
    })?;
    Ok((aws, region))
}

/// A configured endpoint (`AWS_ENDPOINT_URL`, a profile's `endpoint_url`) accepts connections.
/// Called after the command's own input is read, so that input errors come first.
pub fn reachable(aws: &Aws) -> Result<(), CliError> {
    match aws.endpoint_url() {
        Some(url) => check_endpoint(&url),
        None => Ok(()),
    }
}

fn shared_file(variable: &str, name: &str) -> PathBuf {
    match std::env::var_os(variable) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(".aws")
            .join(name),
    }
}

/// The section names of a shared config or credentials file (`[profile x]` → `profile x`).
fn sections(path: &PathBuf) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            line.strip_prefix('[')?
                .strip_suffix(']')
                .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .collect()
}

/// Whether `name` is a profile of the shared config or credentials file (AWS CLI user guide,
/// "Configuration and credential file settings": `[profile NAME]` in config, `[NAME]` in
/// credentials, `[default]` in both).
pub fn check_profile(name: &str) -> Result<(), CliError> {
    let config = shared_file("AWS_CONFIG_FILE", "config");
    let credentials = shared_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    let in_config = sections(&config)
        .iter()
        .any(|s| *s == format!("profile {name}") || (name == "default" && s == "default"));
    let in_credentials = sections(&credentials).iter().any(|s| s == name);
    if in_config || in_credentials {
        return Ok(());
    }
    Err(format!(
        "AWS profile {name} is not in {} or {}: check its name (`aws configure list-profiles` lists them); {EMULATOR_HINT}",
        config.display(),
        credentials.display()
    ).into())
}

/// `host:port` of an endpoint URL (`http://127.0.0.1:5000/`, `https://rds.example`).
fn authority(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let host_port = rest.split(['/', '?', '#']).next()?;
    let host_port = host_port.rsplit('@').next()?;
    let default = if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    };
    match host_port.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => Some((
            host.trim_matches(['[', ']']).to_string(),
            port.parse().ok()?,
        )),
        _ => Some((host_port.trim_matches(['[', ']']).to_string(), default)),
    }
}

/// A configured endpoint (`AWS_ENDPOINT_URL`, a profile's `endpoint_url`) must accept a
/// connection: the SDK would otherwise retry for seconds and end in a dump.
fn check_endpoint(url: &str) -> Result<(), CliError> {
    let Some((host, port)) = authority(url) else {
        return Err(format!(
            "the AWS endpoint {url} is not a URL (AWS_ENDPOINT_URL or a profile's endpoint_url)"
        )
        .into());
    };
    let addresses: Vec<_> = match (host.as_str(), port).to_socket_addrs() {
        Ok(addresses) => addresses.collect(),
        Err(e) => return Err(format!("cannot resolve the AWS endpoint {url}: {e}").into()),
    };
    let mut last = None;
    for address in &addresses {
        match TcpStream::connect_timeout(address, CONNECT_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    let cause = last.map(|e| e.to_string()).unwrap_or_default();
    let loopback = addresses.iter().any(|a| a.ip().is_loopback());
    Err(if loopback {
        format!(
            "cannot reach the AWS endpoint {url} ({cause}): is the emulator running? Start it with `make emulator`, then `source` the env file it prints"
        )
    } else {
        format!(
            "cannot reach the AWS endpoint {url} ({cause}): check AWS_ENDPOINT_URL or the profile's endpoint_url, the network and the proxy"
        )
    }.into())
}

/// An error as the CLI prints it: SDK dispatch dumps (connection and TLS failures) become one
/// line with the fix, the dump only with `--verbose`.
pub fn explain(message: &str, verbose: bool) -> String {
    let dispatch = [
        "dispatch failure",
        "error trying to connect",
        "Connection refused",
    ]
    .iter()
    .any(|m| message.contains(m));
    if !dispatch || verbose || message.starts_with("cannot reach") {
        return message.to_string();
    }
    let first = message.split(": ").take(2).collect::<Vec<_>>().join(": ");
    format!(
        "{first}: AWS could not be reached (network, proxy or endpoint); run with --verbose for the SDK's details"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_read_as_host_and_port() {
        assert_eq!(
            authority("http://127.0.0.1:5000/"),
            Some(("127.0.0.1".into(), 5000))
        );
        assert_eq!(
            authority("https://rds.eu-west-1.amazonaws.com"),
            Some(("rds.eu-west-1.amazonaws.com".into(), 443))
        );
        assert_eq!(
            authority("http://localhost"),
            Some(("localhost".into(), 80))
        );
        assert_eq!(authority("http://[::1]:9/x"), Some(("::1".into(), 9)));
        assert_eq!(authority("not a url"), None);
    }

    #[test]
    fn dispatch_dumps_shrink_to_a_line_unless_verbose() {
        let dump = "TransientAwsError: listing snapshots: dispatch failure: io error: error trying to connect: tcp connect error: Connection refused (os error 111)";
        let short = explain(dump, false);
        assert!(
            short.starts_with("TransientAwsError: listing snapshots: AWS could not be reached"),
            "{short}"
        );
        assert!(!short.contains("os error"), "{short}");
        assert_eq!(explain(dump, true), dump);
        assert_eq!(explain("AccessDenied: no", false), "AccessDenied: no");
    }
}
