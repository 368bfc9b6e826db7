"""factory_boy factories for the models tests need."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from engine.models import Event, Membership, Profile, Project


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"marketer{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw-for-tests")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    timezone = "UTC"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.ADMIN


class ProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Profile

    project = factory.SubFactory(ProjectFactory)
    external_id = factory.Sequence(lambda n: f"u-{n}")
    properties = factory.LazyFunction(dict)


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    profile = factory.SubFactory(ProfileFactory)
    project = factory.SelfAttribute("profile.project")
    name = "Added To Cart"
    ts = factory.LazyFunction(timezone.now)
    properties = factory.LazyFunction(dict)
