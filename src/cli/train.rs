//! `lgd train`: the daemon, then one line that says how the run ended.

use std::path::Path;

use lgd::logging::LogFormat;

/// Trains `config` in `run_dir` and reports the ending.
pub fn run(config: &Path, run_dir: &Path, accept_changes: bool, log_format: LogFormat) -> anyhow::Result<()> {
    let summary = lgd::daemon::train(config, run_dir, lgd::daemon::TrainOptions { accept_changes })?;
    if let Some(phase) = summary.stopped_during_startup {
        tracing::info!(run_dir = %run_dir.display(), %phase, "lgd train: stopped on request during start-up, while {phase}; nothing trained");
        return Ok(());
    }
    let requeue_note = summary.requeued.as_ref().map(|requeued| format!("stopped for a requeue: {requeued}"));
    let how = match (summary.already_finished, summary.stopped_by_signal, &requeue_note) {
        (true, _, _) => "already finished, nothing to train",
        (false, true, Some(note)) => note.as_str(),
        (false, true, None) => "stopped on request",
        (false, false, _) => "finished",
    };
    match log_format {
        // A JSON log stays one object per line to its end.
        LogFormat::Json => tracing::info!(
            steps = summary.steps,
            images_per_second = summary.images_per_second,
            run_dir = %run_dir.display(),
            stopped_by_signal = summary.stopped_by_signal,
            already_finished = summary.already_finished,
            "lgd train: {how}"
        ),
        LogFormat::Text if summary.already_finished => {
            eprintln!("lgd train: {how}: run folder {} ended at step {}", run_dir.display(), summary.steps)
        }
        LogFormat::Text => eprintln!(
            "lgd train: {how} after {} steps ({:.1} img/s); run folder {}: metrics.jsonl, checkpoints/, bad_samples.txt",
            summary.steps,
            summary.images_per_second,
            run_dir.display()
        ),
    }
    Ok(())
}
