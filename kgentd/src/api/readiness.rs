//! Serving from the moment the socket is bound: the standard gRPC health service
//! (`grpc.health.v1.Health`), server reflection (`grpc.reflection.v1` and `v1alpha`, so grpcurl
//! and clients without the .proto can call the API), and the `kgent.v1.Kgent` service behind a
//! gate that holds calls until the daemon has read the host and built its catalog.
//!
//! Health is `NOT_SERVING` (for the server, "", and for `kgent.v1.Kgent`) while the gate is
//! closed and `SERVING` once it opens. A call that arrives meanwhile waits and is answered once
//! the gate opens, as it was when the socket's backlog held it (a client started beside the
//! daemon needs no retry loop); if the daemon stops first, it gets `UNAVAILABLE`. This module owns
//! only the gate and these two standard services; what the API does is [`KgentService`]'s.
use std::convert::Infallible;
use std::task::{Context, Poll};

use tokio::sync::watch;
use tonic::body::Body;
use tonic::codegen::{http, BoxFuture, Service};
use tonic::server::NamedService;
use tonic::transport::server::Router;
use tonic::transport::Server;
use tonic::Status;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

use super::KgentService;
use crate::error::KgentError;
use crate::proto::kgent_server::KgentServer;

type Api = KgentServer<KgentService>;

/// Opens the gate once the daemon is ready, and says so to the health service.
pub struct Gate {
    api: watch::Sender<Option<Api>>,
    health: HealthReporter,
}

/// The `kgent.v1.Kgent` service as the router sees it: the real one once the gate is open.
#[derive(Clone)]
struct GatedApi {
    api: watch::Receiver<Option<Api>>,
}

/// A router serving the health service (everything `NOT_SERVING`), reflection over kgent.v1
/// and the health protocol, and the API behind the closed gate; the [`Gate`] opens it.
pub async fn router() -> Result<(Gate, Router), KgentError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status("", ServingStatus::NotServing)
        .await;
    health.set_not_serving::<Api>().await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_error = |e| KgentError::Internal(format!("gRPC reflection: {e}"));
    let reflection_v1 = reflection().build_v1().map_err(reflection_error)?;
    let reflection_v1alpha = reflection().build_v1alpha().map_err(reflection_error)?;
    let (api, waiting) = watch::channel(None);
    let router = Server::builder()
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(GatedApi { api: waiting });
    Ok((Gate { api, health }, router))
}

impl Gate {
    /// Puts `service` behind the gate and reports `SERVING`. The first service stays: the gate
    /// opens once.
    pub async fn open(&self, service: KgentService) {
        self.api.send_if_modified(|api| {
            let closed = api.is_none();
            if closed {
                *api = Some(KgentServer::new(service));
            }
            closed
        });
        self.health.set_serving::<Api>().await;
        self.health
            .set_service_status("", ServingStatus::Serving)
            .await;
    }
}

impl NamedService for GatedApi {
    const NAME: &'static str = <Api as NamedService>::NAME;
}

impl Service<http::Request<Body>> for GatedApi {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let mut api = self.api.clone();
        Box::pin(async move {
            let open = api.wait_for(Option::is_some).await.map(|a| a.clone());
            match open {
                Ok(Some(mut api)) => api.call(request).await,
                _ => Ok(Status::unavailable(
                    "kgentd stopped before it had read this host and built its catalog; \
                     see its log",
                )
                .into_http()),
            }
        })
    }
}
