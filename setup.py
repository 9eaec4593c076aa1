# nbdev 2 style setup.py, without pkg_resources (gone from current setuptools)
from configparser import ConfigParser
import setuptools, shlex

cfg = ConfigParser(delimiters=['='])
cfg.read('settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']

cfg_keys = 'version description keywords author author_email'.split()
expected = cfg_keys + "lib_name user branch license status min_python audience language".split()
for o in expected: assert o in cfg, f"missing expected setting: {o}"
setup_cfg = {o: cfg[o] for o in cfg_keys}

statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable',
            '6 - Mature', '7 - Inactive']
py_versions = '3.10 3.11 3.12'.split()

requirements = shlex.split(cfg.get('requirements', ''))
if cfg.get('pip_requirements'): requirements += shlex.split(cfg.get('pip_requirements', ''))
min_python = cfg['min_python']
# `license` is an SPDX expression (PEP 639), so no `License ::` classifier: setuptools refuses both together
lic = {'apache2': 'Apache-2.0'}.get(cfg['license'].lower(), cfg['license'])
# every `X_requirements` setting is the extra `X` (`pip install "bear_lib[serve]"`); `all` is every extra but dev and space
# (the design card's full set), and dev is the test tools and all. Not space: gradio 6.31.0 asks for pillow<13, constraints.txt
# pins Pillow 13, and the Space installs from its own requirements.txt in a venv of its own (tests/test_space.py)
extras = {k[:-len('_requirements')]: shlex.split(v) for k,v in cfg.items()
          if k.endswith('_requirements') and k != 'pip_requirements' and v.strip()}
def _union(*names): return list(dict.fromkeys(r for n in names for r in extras.get(n, [])))  # in order, each once
extras['all'] = _union(*(n for n in extras if n not in ('dev', 'space')))
extras['dev'] = _union('dev', 'all')

setuptools.setup(
    name=cfg['lib_name'],
    license_expression=lic,
    license_files=['LICENSE'],
    classifiers=['Development Status :: ' + statuses[int(cfg['status'])],
                 'Intended Audience :: ' + cfg['audience'].title(),
                 'Natural Language :: ' + cfg['language'].title()] +
                ['Programming Language :: Python :: ' + o for o in py_versions[py_versions.index(min_python):]],
    url=cfg['git_url'],
    packages=setuptools.find_packages(include=['bear_lib', 'bear_lib.*']),
    include_package_data=True,
    install_requires=requirements,
    extras_require=extras,
    python_requires='>=' + cfg['min_python'],
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    zip_safe=False,
    entry_points={
        'console_scripts': cfg.get('console_scripts', '').split(),
        'nbdev': [f'{cfg.get("lib_path")}={cfg.get("lib_path")}._modidx:d'],
    },
    **setup_cfg)
