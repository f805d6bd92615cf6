"""The machinery of the study.

``runner`` (the papermill batch, ``--jobs``), ``profile`` (run profiles and their validation), ``store``
(the artifact store), ``codeversion`` (code versions behind cached artifacts, with the registry
``code_versions.json``), ``provenance`` (the git state of the results), ``seeds`` (random streams by
purpose), ``runtime`` (device, threads, paths, progress bars), ``validate`` (input checks), ``cli``.
"""
