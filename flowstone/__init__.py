"""FlowStone: asset-first data orchestration."""
