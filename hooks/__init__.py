"""Write runwatch's metric stream from other trainers: a Lightning Callback
(`runwatch.hooks.lightning`), a Hugging Face TrainerCallback (`runwatch.hooks.hf`), and the
planned LR of every epoch from any torch scheduler (`runwatch.hooks.plan`) for a plain loop
writing through `runwatch.stream.open_run`.

Each hook module imports its trainer (optional: installed with it, not with runwatch); this
package imports none of them. See README, "Use it with your trainer".
"""
