"""The web service: Flask application factory, views and templates."""
