"""Request bodies copied from the Research Lab seed document (000_99c045e55e4b079f.txt)."""

from __future__ import annotations

from typing import Any

EXPERIMENT: dict[str, Any] = {
    "name": "GPT-4 vs Claude Comparison",
    "description": "Comparative analysis of GPT-4 and Claude on reasoning tasks",
    "hypothesis": "Claude will show stronger performance on multi-step reasoning",
    "owner_id": "550e8400-e29b-41d4-a716-446655440000",
    "collaborators": ["550e8400-e29b-41d4-a716-446655440001"],
    "tags": ["comparison", "reasoning", "benchmarking"],
    "config": {
        "model_ids": ["550e8400-e29b-41d4-a716-446655440100", "550e8400-e29b-41d4-a716-446655440101"],
        "dataset_ids": ["550e8400-e29b-41d4-a716-446655440200"],
        "prompt_template_ids": ["550e8400-e29b-41d4-a716-446655440300"],
        "parameters": {"temperature": 0.7, "max_tokens": 2048, "top_p": 0.95},
        "evaluation_metrics": ["accuracy", "bleu", "latency"],
        "num_samples": 1000,
        "random_seed": 42,
    },
}

MODEL: dict[str, Any] = {
    "name": "Claude 3.5 Sonnet",
    "provider": "anthropic",
    "model_identifier": "claude-3-5-sonnet-20241022",
    "version": "20241022",
    "config": {
        "max_context_window": 200000,
        "supports_vision": True,
        "supports_function_calling": True,
        "pricing": {"input_per_million": 3.00, "output_per_million": 15.00},
    },
}

PROMPT: dict[str, Any] = {
    "name": "Chain-of-Thought Reasoning",
    "description": "Prompts the model to think step-by-step before answering",
    "template": (
        "You are a helpful assistant that solves problems by thinking step-by-step.\n\n"
        "Problem: {{question}}\n\n"
        "Please solve this problem by:\n1. Breaking it down into smaller steps\n2. Explaining your reasoning "
        "for each step\n3. Arriving at the final answer\n\nThink carefully and show your work."
    ),
    "variables": ["question"],
    "default_values": {},
    "tags": ["reasoning", "chain-of-thought", "problem-solving"],
    "metadata": {
        "author": "research-team",
        "technique": "chain-of-thought",
        "paper_reference": "https://arxiv.org/abs/2201.11903",
    },
}

EVAL_METRICS: dict[str, Any] = {
    "accuracy": 0.847,
    "bleu": 0.723,
    "latency_p50_ms": 1250,
    "latency_p95_ms": 2340,
    "latency_p99_ms": 3100,
    "tokens_per_second": 45.2,
    "total_tokens": 125000,
    "cost_usd": 12.50,
}
