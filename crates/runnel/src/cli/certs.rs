//! `runnel certs create DIR`: a development CA, a server certificate and client certificates
//! (PEM, PKCS#8 keys) for trying TLS with client certificates, and the broker and client
//! settings that use them. Runnel's own command (Kafka has none); the generator is
//! `runnel_broker::tls::dev_certs`. Not for production: keys are written unencrypted.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use runnel_broker::tls::dev_certs::{self, DevCertsRequest};

/// Server names used when neither --host nor --ip is given.
const DEFAULT_HOST: &str = "localhost";
const DEFAULT_IP: &str = "127.0.0.1";
/// The client certificate made when no --client is given.
const DEFAULT_CLIENT: &str = "client";
/// The SSL listener port the printed settings use unless --ssl-port says otherwise.
const DEFAULT_SSL_PORT: u16 = 9093;

#[derive(Args, Debug)]
pub struct CertsArgs {
    #[command(subcommand)]
    command: CertsCommand,
}

#[derive(Subcommand, Debug)]
enum CertsCommand {
    /// Write a dev CA, a server certificate and client certificates into DIR and print the
    /// server.properties lines and client settings (kafka-python, confluent-kafka, Java) that use them.
    #[command(after_help = "Examples:\n  runnel certs create ./certs\n  \
        runnel certs create ./certs --host broker.local --ip 127.0.0.1 --client alice --client bob")]
    Create(CreateArgs),
}

#[derive(Args, Debug)]
struct CreateArgs {
    /// Directory to write into (created if missing; files of the same names are replaced).
    dir: PathBuf,
    /// A DNS name for the server certificate; repeatable [default: localhost, with --ip 127.0.0.1].
    #[arg(long = "host", value_name = "NAME")]
    hosts: Vec<String>,
    /// An IP address for the server certificate; repeatable.
    #[arg(long = "ip", value_name = "ADDR")]
    ips: Vec<IpAddr>,
    /// A client certificate with this common name; repeatable [default: client].
    #[arg(long = "client", value_name = "NAME")]
    clients: Vec<String>,
    /// The SSL listener port in the printed settings.
    #[arg(long = "ssl-port", value_name = "PORT", default_value_t = DEFAULT_SSL_PORT)]
    ssl_port: u16,
}

pub fn run(args: CertsArgs) -> anyhow::Result<()> {
    let CertsCommand::Create(args) = args.command;
    let (hosts, ips) = if args.hosts.is_empty() && args.ips.is_empty() {
        let ip: IpAddr = DEFAULT_IP.parse().context("the default IP address")?;
        (vec![DEFAULT_HOST.to_string()], vec![ip])
    } else {
        (args.hosts, args.ips)
    };
    let clients = if args.clients.is_empty() { vec![DEFAULT_CLIENT.to_string()] } else { args.clients };
    let request = DevCertsRequest { hosts, ips, clients, ssl_port: args.ssl_port };
    let certs = dev_certs::create(&args.dir, &request).with_context(|| format!("creating certificates in {}", args.dir.display()))?;
    print!("{}", dev_certs::settings_text(&certs));
    Ok(())
}
