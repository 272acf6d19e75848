//! A small client of RabbitMQ's management HTTP API: vhosts for tests, binding checks for
//! `broker-init --verify`, queue depths and broker-side faults (closing connections).

use secrecy::{ExposeSecret, SecretString};

/// A small client of RabbitMQ's management HTTP API (vhosts for tests, binding checks).
#[derive(Clone)]
pub struct Management {
    base: url::Url,
    user: String,
    password: SecretString,
    vhost: String,
    http: reqwest::Client,
}

impl Management {
    /// A client for `base` (e.g. `http://127.0.0.1:15672`) acting on `vhost`.
    pub fn new(base: url::Url, user: impl Into<String>, password: SecretString, vhost: impl Into<String>) -> Self {
        Self {
            base,
            user: user.into(),
            password,
            vhost: vhost.into(),
            http: reqwest::Client::new(),
        }
    }

    /// The management client matching an AMQP URI (same credentials and vhost, port 15672).
    pub fn for_amqp_uri(amqp: &SecretString, base: url::Url) -> Result<Self, url::ParseError> {
        let uri = url::Url::parse(amqp.expose_secret())?;
        let user = if uri.username().is_empty() {
            "guest".to_owned()
        } else {
            percent_decode(uri.username())
        };
        let password = uri.password().map(percent_decode).unwrap_or_else(|| "guest".to_owned());
        Ok(Self::new(
            base,
            user,
            password.into(),
            crate::supervisor::vhost_of(&uri),
        ))
    }

    fn url(&self, path: &str) -> url::Url {
        let mut u = self.base.clone();
        u.set_path(path);
        u
    }

    fn enc(s: &str) -> String {
        url::form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, reqwest::Error> {
        req.basic_auth(&self.user, Some(self.password.expose_secret()))
            .send()
            .await?
            .error_for_status()
    }

    /// Whether `exchange` routes `key` to `queue`.
    pub async fn has_binding(&self, exchange: &str, queue: &str, key: &str) -> Result<bool, reqwest::Error> {
        let path = format!(
            "/api/bindings/{}/e/{}/q/{}",
            Self::enc(&self.vhost),
            Self::enc(exchange),
            Self::enc(queue)
        );
        let rows: Vec<serde_json::Value> = self.send(self.http.get(self.url(&path))).await?.json().await?;
        Ok(rows
            .iter()
            .any(|r| r.get("routing_key").and_then(|k| k.as_str()) == Some(key)))
    }

    /// Creates the vhost and gives this client's user full permissions on it.
    pub async fn create_vhost(&self) -> Result<(), reqwest::Error> {
        let v = Self::enc(&self.vhost);
        self.send(
            self.http
                .put(self.url(&format!("/api/vhosts/{v}")))
                .json(&serde_json::json!({})),
        )
        .await?;
        self.send(
            self.http
                .put(self.url(&format!("/api/permissions/{v}/{}", Self::enc(&self.user))))
                .json(&serde_json::json!({"configure": ".*", "write": ".*", "read": ".*"})),
        )
        .await?;
        Ok(())
    }

    /// Deletes the vhost and everything in it.
    pub async fn delete_vhost(&self) -> Result<(), reqwest::Error> {
        self.send(
            self.http
                .delete(self.url(&format!("/api/vhosts/{}", Self::enc(&self.vhost)))),
        )
        .await
        .map(|_| ())
    }

    /// Messages ready in a queue of this vhost.
    pub async fn queue_depth(&self, queue: &str) -> Result<u64, reqwest::Error> {
        let path = format!("/api/queues/{}/{}", Self::enc(&self.vhost), Self::enc(queue));
        let v: serde_json::Value = self.send(self.http.get(self.url(&path))).await?.json().await?;
        Ok(v.get("messages").and_then(|m| m.as_u64()).unwrap_or(0))
    }

    /// Closes every client connection to this vhost (a broker-side fault for tests).
    pub async fn close_vhost_connections(&self) -> Result<usize, reqwest::Error> {
        let path = format!("/api/vhosts/{}/connections", Self::enc(&self.vhost));
        let conns: Vec<serde_json::Value> = self.send(self.http.get(self.url(&path))).await?.json().await?;
        let mut closed = 0;
        for c in conns {
            if let Some(name) = c.get("name").and_then(|n| n.as_str()) {
                let path = format!("/api/connections/{}", Self::enc(name));
                if self.send(self.http.delete(self.url(&path))).await.is_ok() {
                    closed += 1;
                }
            }
        }
        Ok(closed)
    }
}

pub(crate) fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}
