"""FlowStone: asset-first data orchestration (public API assembled at integration)."""
