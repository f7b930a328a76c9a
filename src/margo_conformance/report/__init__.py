"""Writers and checks fed by one results tree: HTML report, Allure HTML, certification bundle.

Also the run-time pieces the verdict needs that are not pytest hooks themselves: waivers
(expected failures), mandatory coverage, suite and image identity, and live progress.
Modules here import `margo_conformance.results.collector` at most one way (results never imports the
writers), so the collector stays free of rendering concerns.
"""
