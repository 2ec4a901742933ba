"""The seed's Python SDK example, runnable against a live server.

    LAB_BASE_URL=http://127.0.0.1:8000 LAB_API_KEY=llm-research_... \
    LAB_EXAMPLE_MODEL_URL=http://127.0.0.1:8011/v1 python examples/sdk_quickstart.py

The seed's placeholders ("model-uuid", "dataset-uuid") are replaced by a model registered for an
OpenAI-compatible endpoint and a small uploaded dataset. When the server's engine executes the run
(a *managed* run: the config names models, datasets and a prompt template), `wait_for_completion`
waits for it; where the server does not execute it, the run is *tracked*, and this script scores
the dataset itself and reports the metrics, MLflow style.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import httpx

from llm_research_lab import Client

QUESTIONS = [("What is 2 + 2?", "4"), ("Capital of France?", "Paris"), ("Opposite of hot?", "cold")]


def make_dataset(client: Client) -> str:
    rows = "".join(f'{{"question": "{q}", "answer": "{a}"}}\n' for q, a in QUESTIONS)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "math.jsonl"
        path.write_text(rows)
        dataset = client.datasets.create(f"quickstart-{uuid.uuid4().hex[:6]}", format="jsonl")
        client.datasets.upload(dataset.id, path)  # streamed through the signed URL
    return str(dataset.id)


def score_locally(model_url: str, model_name: str, temperature: float) -> float:
    """A tracked run: ask the endpoint each question and count exact answers."""
    correct = 0
    with httpx.Client(base_url=model_url, timeout=30) as http:
        for question, answer in QUESTIONS:
            reply = http.post(
                "/chat/completions",
                json={
                    "model": model_name,
                    "temperature": temperature,
                    "messages": [{"role": "user", "content": f"Question: {question}\nAnswer:"}],
                },
            ).json()
            correct += reply["choices"][0]["message"]["content"].strip().lower() == answer.lower()
    return correct / len(QUESTIONS)


def main() -> None:
    model_url = os.environ.get("LAB_EXAMPLE_MODEL_URL", "http://127.0.0.1:8011/v1")

    # Initialize client
    client = Client(
        api_key=os.environ.get("LAB_API_KEY", "your-api-key"),
        base_url=os.environ.get("LAB_BASE_URL", "http://127.0.0.1:8000"),
    )
    model = client.models.create("Quickstart model", "openai-compatible", "fake-model", base_url=model_url)
    dataset_id = make_dataset(client)
    template = client.prompts.create(f"qa-{uuid.uuid4().hex[:6]}", "Question: {{question}}\nAnswer:")

    # Create an experiment
    experiment = client.experiments.create(
        name=f"My Experiment {uuid.uuid4().hex[:6]}",
        description="Testing GPT-4 on math problems",
        config={
            "model_ids": [str(model.id)],
            "dataset_ids": [dataset_id],
            "prompt_template_ids": [str(template.id)],
            "evaluation_metrics": ["accuracy"],
            "parameters": {"temperature": 0.7},
        },
    )

    # Start the experiment
    experiment.start()

    # Create a run
    run = experiment.create_run(config_overrides={"parameters": {"temperature": 0.5}})
    if not run.managed:
        accuracy = score_locally(model_url, model.model_identifier, run.config["parameters"]["temperature"])
        run.log_metrics({"accuracy": accuracy}, {"scored_by": "examples/sdk_quickstart.py"})
        run.complete()

    # Wait for completion
    run.wait_for_completion(timeout=3600)

    # Get metrics
    metrics = experiment.get_metrics()
    print(f"Accuracy: {metrics.accuracy}")
    client.close()


if __name__ == "__main__":
    main()
