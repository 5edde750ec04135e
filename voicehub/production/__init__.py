"""A studio's productions: projects, characters, cuts, lines and their takes."""
