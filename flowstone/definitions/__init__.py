"""Definitions: what users declare, validated before anything runs.

Nothing here runs an asset or touches a store; the engine and the runtime read these
objects. Layering (tests/test_layering.py): definitions never import the engine, the
runtime or the CLI.

Module map:
    _pipeline.py, _asset_builder.py   Pipeline and the @pipeline.asset decorator
    _asset.py, _asset_info.py         AssetDefinition, AssetInfo
    _checkpoint.py                    CheckpointSpec and @pipeline.checkpoint (gates)
    _dependency.py                    Dep: a dependency with its partition mapping
    _graph.py, _graph_render.py       AssetGraph (topological order, closures) and its text form
    _validation.py, _cycles.py        whole-pipeline checks run when a Runtime is built
    _retry.py                         RetryPolicy
    _resources.py                     ResourceDefinition and the runtime's ResourceManager
    _ray_options.py                   RayOptions
    _context.py                       AssetContext, what an asset function receives
    _naming.py, _pydantic_messages.py name rules; pydantic errors turned into sentences
"""
