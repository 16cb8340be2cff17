"""How people sign in: the allauth adapter and login stage, django-axes hooks, and the browser pages for MFA."""
