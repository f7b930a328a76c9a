"""Writers and checks fed by one results tree: HTML report, Allure HTML, certification bundle.

Also the live progress lines. (Waivers, mandatory coverage and identity are verdict inputs:
`margo_conformance.results`.)
Modules here may import `margo_conformance.results`, never the other way (results never imports
the writers), so the results tree stays free of rendering concerns.
"""
