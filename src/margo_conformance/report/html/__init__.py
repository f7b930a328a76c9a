"""report.html: the conformance report a person reads, rendered from the results tree.

One self-contained file that opens from disk: the CSS is inlined, there is no script and no
external resource, and every value from the run is escaped. The markup lives in
`report/templates/` (string.Template); the modules here only fill it:

- `page`: the page itself (banner, section order, identity), `render_report` and `write_report`;
- `lead`: what failed per requirement, what was blocked, what is advisory;
- `evidence`: each failure with its evidence (HTTP, Git, the SUT's log, the timeline);
- `scenarios`: summary, skipped and not run, not tested, all scenarios, waivers;
- `coverage`: requirement traceability and catalogue coverage;
- `fleet`: the Performance section and the page of a fleet run;
- `markup`: escaping, templates, tables and links the others share.
"""
