"""onespace: share data between OpenStack Swift and S3 / other Swift clusters."""

from setuptools import find_packages, setup

setup(
    name="onespace",
    version="0.1.0",
    description="Sync, archive and migrate between OpenStack Swift and S3 / Swift "
                "(a drop-in successor of 1space / swift-s3-sync)",
    long_description=open("README.md").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=["onespace", "onespace.*"]),
    package_data={"onespace": ["schemas/*.json"]},
    install_requires=[
        "boto3>=1.35",
        "python-swiftclient>=4.4",
        "swift>=2.34",
        "eventlet>=0.36",
        "jsonschema>=4.18",
        "sdnotify>=0.3.2",
        "statsd>=4.0",
    ],
    entry_points={
        "console_scripts": [
            "onespace-sync = onespace.cli:sync_main",
            "onespace-migrator = onespace.cli:migrator_main",
            "onespace-config = onespace.cli:config_main",
            "onespace-status = onespace.cli:status_main",
            "onespace-verify = onespace.verify:main",
        ],
        "paste.filter_factory": [
            "cloud-shunt = onespace.shunt:filter_factory",
        ],
    },
)
