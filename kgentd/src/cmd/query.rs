//! `kgentd query`: compiles one kgent query against this host's facts and prints the bpftrace
//! program. There is no request, so no repairs; nothing is loaded and no model is asked.
use kgentd::config::Config;

pub async fn run(config: Config, query: &str) -> anyhow::Result<()> {
    let host = kgentd::daemon::discover_host(&config).await?;
    let q = kgentd::query::parse(query.trim().trim_end_matches(';'))
        .map_err(|e| anyhow::anyhow!("the query does not parse: {e}"))?;
    let c = kgentd::query::compile::compile(&host, kgentd::knowledge::specs::query_facts(), &q)
        .map_err(|e| anyhow::anyhow!("the query cannot be compiled: {e}"))?;
    print!("{}", c.source);
    Ok(())
}
