"""Prompts of the built-in model's benchmarks (bench_local, bench_numerics, gpu_check): made up, paper-shaped.

:func:`persona_prompts` are ~380-token multiple-choice prompts in the paper's shape (a group's instructions and
few-shot examples, then the question; group-major, as a run orders them) asking for one letter
(``model_logprobs`` requests). :func:`free_text` asks for a short explanation, sampled and seeded.
"""

from __future__ import annotations

from distalign.types import Message, Request

EXAMPLES = [
    (
        "How satisfied are you with the public transportation options where you live?",
        ["Very satisfied", "Somewhat satisfied", "Not too satisfied", "Not at all satisfied", "Refused"],
        "B",
    ),
    ("How often, if ever, do you get news from podcasts?", ["Often", "Sometimes", "Rarely", "Never", "Refused"], "D"),
    (
        "Would you favor or oppose a four-day work week for most full-time jobs in your area?",
        ["Favor", "Oppose", "Refused"],
        "A",
    ),
    (
        "How much, if at all, do you trust the weather forecasts of your local TV stations?",
        ["A great deal", "A fair amount", "Not too much", "Not at all", "Refused"],
        "B",
    ),
    (
        "Compared with ten years ago, are people in your community more or less likely to volunteer their time?",
        ["More likely", "Less likely", "About as likely", "Refused"],
        "B",
    ),
]
GROUPS = ["Democrat", "Republican", "Male", "Female", "Black", "White", "Asian", "Hispanic"]
TOPICS = [
    "public libraries",
    "local newspapers",
    "city parks",
    "online banking",
    "electric cars",
    "remote work",
    "community colleges",
    "public radio",
]


def block(question: str, options: list[str], answer: str = "") -> str:
    lines = [f"Question: {question}"] + [f"{chr(65 + i)}. {o}" for i, o in enumerate(options)]
    return "\n".join(lines + [f"Answer: {answer}".rstrip()])


def persona_prompts(n: int) -> list[Request]:
    """``n`` ``model_logprobs`` requests of ~380 tokens, eight per group."""
    shots = "\n\n---\n\n".join(block(*e) for e in EXAMPLES)
    out = []
    for i in range(n):
        group, topic = GROUPS[(i // len(TOPICS)) % len(GROUPS)], TOPICS[i % len(TOPICS)]  # group-major, as a run
        question = block(
            f"How much do you trust {topic} to give you accurate information?",
            ["A great deal", "A fair amount", "Not too much", "Not at all", "Refused"],
        )
        text = (
            f'Answer as a randomly chosen member of the group "{group}" would: reply with one letter.\n\n'
            f"Examples of the format (other questions, other groups):\n\n{shots}\n\n---\n\n"
            f'Now answer for members of the group "{group}" (question {i}).\n\n{question}'
        )
        out.append(
            Request(
                (Message("system", "You are a helpful, careful assistant."), Message("user", text)),
                max_tokens=1,
                top_logprobs=20,
                letters=("A", "B", "C", "D", "E"),
            )
        )
    return out


def free_text(n: int, max_tokens: int) -> list[Request]:
    """``n`` seeded free-text requests (temperature 1) on the persona prompts' questions and groups."""
    out = []
    for i, base in enumerate(persona_prompts(n)):
        ask = base.messages[1].content.replace("reply with one letter", "explain the answer")
        text = f"{ask}\n\nIn two or three sentences, say how members of this group see the question and why."
        out.append(
            Request(
                (base.messages[0], Message("user", text)),
                max_tokens=max_tokens,
                temperature=1.0,
                seed=0,
                sample_index=i,
            )
        )
    return out
