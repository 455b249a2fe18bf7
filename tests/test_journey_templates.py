"""Journey templates: the phases and micro-interactions a new board can start from."""

from __future__ import annotations

import pytest

from boards import services
from boards.journey_templates import DEFAULT_TEMPLATE, TEMPLATES, template_choices
from boards.models import Channel, MicroInteraction, MomentOfTruth, Phase

STAGES = ["Awareness", "Consideration", "Purchase", "Service", "Loyalty & Advocacy"]


def test_it_offers_the_luxury_retail_and_omnichannel_templates():
    assert set(TEMPLATES) == {"luxury-retail", "omnichannel-ecommerce"}
    assert DEFAULT_TEMPLATE == "luxury-retail"
    assert template_choices() == [
        ("", "Blank board"),
        ("luxury-retail", "Luxury retail journey"),
        ("omnichannel-ecommerce", "Omnichannel e-commerce journey"),
    ]


@pytest.mark.parametrize("key", TEMPLATES)
def test_it_follows_the_customer_from_awareness_to_advocacy(key):
    template = TEMPLATES[key]
    assert template.key == key and template.name and template.description
    assert [phase.name for phase in template.phases] == STAGES
    for phase in template.phases:
        assert phase.goal
        assert len(phase.interactions) >= 2
        assert all(mi.action and mi.channel in Channel.values for mi in phase.interactions)


def test_it_maps_the_moments_of_truth_of_a_luxury_boutique():
    actions = {
        mi.action for phase in TEMPLATES["luxury-retail"].phases for mi in phase.interactions
    }
    for moment in (
        "Asks for a model's details on live chat",
        "Is welcomed and told the brand story in the boutique",
        "Gets expert answers on craftsmanship",
        "Unboxes the piece at home",
    ):
        assert moment in actions


@pytest.mark.django_db
@pytest.mark.parametrize("key", TEMPLATES)
def test_it_copies_a_templates_phases_and_interactions_in_order(facilitator, workshop, key):
    template = TEMPLATES[key]
    board = services.create_scenario(
        actor=facilitator, workshop=workshop, title="From a template", template_key=key
    )
    assert board.template_key == key
    phases = list(Phase.objects.filter(scenario=board).order_by("order"))
    assert [(p.order, p.name, p.goal) for p in phases] == [
        (i, p.name, p.goal) for i, p in enumerate(template.phases)
    ]
    for phase, source in zip(phases, template.phases, strict=True):
        copied = list(
            MicroInteraction.objects.filter(phase=phase)
            .order_by("order")
            .values_list("order", "action", "channel", "emotion", "moment_of_truth")
        )
        assert copied == [
            (j, mi.action, mi.channel, None, MomentOfTruth.NONE)
            for j, mi in enumerate(source.interactions)
        ]


@pytest.mark.django_db
def test_it_gives_each_board_its_own_copy(facilitator, workshop):
    first = services.create_scenario(
        actor=facilitator, workshop=workshop, title="One", template_key=DEFAULT_TEMPLATE
    )
    second = services.create_scenario(
        actor=facilitator, workshop=workshop, title="Two", template_key=DEFAULT_TEMPLATE
    )
    awareness = first.phases.get(order=0)
    services.update_phase(actor=facilitator, phase=awareness, name="Discovery", goal="", version=1)
    assert second.phases.get(order=0).name == "Awareness"
    assert (
        not MicroInteraction.objects.filter(phase__scenario=first)
        .filter(phase__scenario=second)
        .exists()
    )


@pytest.mark.django_db
def test_it_starts_a_blank_board_with_nothing_on_it(facilitator, workshop):
    board = services.create_scenario(
        actor=facilitator, workshop=workshop, title="Blank", template_key=""
    )
    assert board.template_key == ""
    assert not Phase.objects.filter(scenario=board).exists()
    assert not MicroInteraction.objects.filter(phase__scenario=board).exists()
